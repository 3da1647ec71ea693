//! Linux user mode: static ELF loader and syscall layer.
