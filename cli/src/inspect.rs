//! `wrun inspect`: a module's imports, exports, sections and the proposals
//! it uses, as text or JSON.

use std::path::Path;

use serde_json::{Value, json};
use wrun_runtime::{Engine, Module};

use crate::{Failure, exit};

/// Everything `inspect` prints, gathered once for both output forms.
fn describe(path: &Path, module: &Module) -> Value {
    let imports: Vec<Value> = module
        .imports()
        .map(|i| {
            json!({
                "module": i.module,
                "name": i.name,
                "kind": i.ty.kind_name(),
                "type": i.ty.to_string(),
            })
        })
        .collect();
    let exports: Vec<Value> = module
        .exports()
        .map(|e| {
            json!({
                "name": e.name,
                "kind": e.ty.kind_name(),
                "type": e.ty.to_string(),
            })
        })
        .collect();
    let sections: Vec<Value> = module
        .sections()
        .iter()
        .map(|s| json!({ "name": s.name, "offset": s.offset, "size": s.size }))
        .collect();
    let features: Vec<&str> = module.features_used().collect();
    json!({
        "file": path.display().to_string(),
        "name": module.name(),
        "imports": imports,
        "exports": exports,
        "sections": sections,
        "features": features,
        "runnable": module.unsupported().is_none(),
        "unsupported": module.unsupported().map(|e| e.to_string()),
    })
}

/// Reads a string field of a [`describe`] entry.
fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn entries<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn print_text(d: &Value) {
    println!("module {}", field(d, "file"));
    if let Some(name) = d.get("name").and_then(Value::as_str) {
        println!("  name: {name}");
    }
    let imports = entries(d, "imports");
    println!("imports ({}):", imports.len());
    for i in imports {
        println!(
            "  {}::{}  {}",
            field(i, "module"),
            field(i, "name"),
            field(i, "type")
        );
    }
    let exports = entries(d, "exports");
    println!("exports ({}):", exports.len());
    for e in exports {
        println!("  {}  {}", field(e, "name"), field(e, "type"));
    }
    let sections = entries(d, "sections");
    println!("sections ({}):", sections.len());
    for s in sections {
        let num = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        println!(
            "  {:<16} offset {:#010x}  size {:>8}",
            field(s, "name"),
            num("offset"),
            num("size")
        );
    }
    let features: Vec<&str> = entries(d, "features")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if features.is_empty() {
        println!("features used: none beyond Wasm 1.0");
    } else {
        println!("features used: {}", features.join(", "));
    }
    if let Some(why) = d["unsupported"].as_str() {
        println!("runs on wrun: no ({why})");
    }
}

/// Prints the description of the module in `path`.
pub fn inspect(path: &Path, json: bool) -> Result<i32, Failure> {
    let binary = crate::load::read_binary(path)?;
    let module = wrun_runtime::Module::for_inspection(&Engine::default(), &binary)
        .map_err(|e| crate::load::file_error(path, &e))?;
    let description = describe(path, &module);
    if json {
        let text = serde_json::to_string_pretty(&description)
            .map_err(|e| Failure::error(format!("cannot render JSON: {e}")))?;
        println!("{text}");
    } else {
        print_text(&description);
    }
    Ok(exit::OK)
}
