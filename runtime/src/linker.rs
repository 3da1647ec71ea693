//! Name-based import resolution: a [`Linker`] maps `module::name` pairs to
//! definitions and instantiates modules against them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::func::{Caller, Func, HostFn, IntoFunc};
use crate::instance::{Extern, Instance};
use crate::module::Module;
use crate::store::AsContextMut;
use crate::types::FuncType;
use crate::values::Val;

enum Definition<T> {
    /// An entity of one store.
    Extern(Extern),
    /// A host function, made into a store function on first use per store.
    Host(FuncType, HostFn<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(t, f) => Definition::Host(t.clone(), f.clone()),
        }
    }
}

/// Resolves imports by name.
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition may replace an earlier one of the same name.
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<&mut Self> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.defs.contains_key(&key) {
            return Err(Error::Link(format!(
                "`{module}::{name}` is already defined"
            )));
        }
        self.defs.insert(key, def);
        Ok(self)
    }

    /// Defines `module::name` as an entity of a store.
    pub fn define(
        &mut self,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Defines a typed host function.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, body) = f.into_host();
        self.insert(module, name, Definition::Host(ty, body))
    }

    /// Defines an untyped host function with an explicit signature.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::Host(ty, Arc::new(f)))
    }

    /// Defines every export of `instance` under `module`.
    pub fn instance(
        &mut self,
        mut ctx: impl AsContextMut<Data = T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        let store = ctx.as_store_mut();
        for (name, ext) in instance.exports(&*store) {
            self.define(module, &name, ext)?;
        }
        Ok(self)
    }

    /// The definition of `module::name`, made concrete in `ctx`'s store.
    pub fn get(
        &self,
        mut ctx: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        let def = self.defs.get(&(module.to_string(), name.to_string()))?;
        self.materialize(ctx.as_store_mut(), def).ok()
    }

    fn materialize(&self, store: &mut crate::Store<T>, def: &Definition<T>) -> Result<Extern> {
        Ok(match def {
            Definition::Extern(e) => *e,
            Definition::Host(ty, body) => {
                Extern::Func(Func::from_host(store, ty.clone(), body.clone())?)
            }
        })
    }

    /// Instantiates `module`, resolving each import by name.
    pub fn instantiate(
        &self,
        mut ctx: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        let store = ctx.as_store_mut();
        let mut imports = Vec::new();
        for imp in module.imports() {
            let def = self
                .defs
                .get(&(imp.module.to_string(), imp.name.to_string()))
                .ok_or_else(|| {
                    Error::Link(format!(
                        "unknown import: `{}::{}` has not been defined",
                        imp.module, imp.name
                    ))
                })?;
            imports.push(self.materialize(store, def)?);
        }
        Instance::new(store, module, &imports)
    }
}
