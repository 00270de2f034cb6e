//! Runs the CUDA kernels of `kernels/` on the CPU, for the unit tests: CI
//! has no GPU, so without this a kernel edited on a machine without one
//! would reach a GPU untested. Each source is compiled by the host's C++
//! compiler (`$CXX`, else `c++`) with `emulate.hpp` forced in front, into a
//! shared library loaded once per test process; a launch runs the blocks
//! one after another and each block's threads as OS threads, so a kernel's
//! indexing, bounds and arithmetic are checked as written, shared memory
//! and barriers included; [`Guarded`] outputs catch writes out of bounds. What it cannot check: speed, coalescing, and the
//! races only a GPU's scheduling would expose.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// One kernel source of `kernels/`, compiled for the host and loaded.
pub(crate) struct HostKernels {
    lib: libloading::Library,
    /// The emulated grid sizes and block barrier are globals of the
    /// library, so one launch runs at a time.
    launching: Mutex<()>,
    /// The directory holding the library, removed when the process ends.
    _dir: tempfile::TempDir,
}

type SetDims = unsafe extern "C" fn(u32, u32, u32, u32, u32, u32);
type BeginBlock = unsafe extern "C" fn(u32);

/// Every `[x, y, z]` index below `dims`, x fastest.
fn indices(dims: [u32; 3]) -> impl Iterator<Item = [u32; 3]> {
    (0..dims[2])
        .flat_map(move |z| (0..dims[1]).flat_map(move |y| (0..dims[0]).map(move |x| [x, y, z])))
}

impl HostKernels {
    /// `kernels/<source>.cu` for the host, compiled on first use in this
    /// test process.
    pub(crate) fn get(source: &'static str) -> &'static HostKernels {
        static LOADED: Mutex<Vec<(&str, &HostKernels)>> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().expect("kernel library registry");
        if let Some((_, k)) = loaded.iter().find(|(s, _)| *s == source) {
            return k;
        }
        let k: &'static HostKernels = Box::leak(Box::new(Self::compile(source)));
        loaded.push((source, k));
        k
    }

    fn compile(source: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("a temporary directory for the host kernels");
        let lib_path = dir.path().join(format!("libfno_{source}_host.so"));
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
        let output = Command::new(&cxx)
            .args([
                "-std=c++20",
                "-O1",
                "-shared",
                "-fPIC",
                "-pthread",
                "-include",
            ])
            .arg(root.join("src/kernel_host/emulate.hpp"))
            .args(["-x", "c++"])
            .arg(root.join("kernels").join(format!("{source}.cu")))
            .arg("-o")
            .arg(&lib_path)
            .output()
            .unwrap_or_else(|e| panic!("running the C++ compiler {cxx}: {e}"));
        assert!(
            output.status.success(),
            "compiling kernels/{source}.cu for the host failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // SAFETY: the library was just built from our own sources; loading
        // it runs no initialisers beyond the C++ runtime's.
        let lib = unsafe { libloading::Library::new(&lib_path) }
            .unwrap_or_else(|e| panic!("loading {}: {e}", lib_path.display()));
        Self {
            lib,
            launching: Mutex::new(()),
            _dir: dir,
        }
    }

    /// The exported function `name` as `F`.
    ///
    /// # Safety
    /// `F` must be the function's exact C signature.
    pub(crate) unsafe fn function<F: Copy>(&self, name: &str) -> F {
        // SAFETY: the caller vouches for the signature; the library is
        // never unloaded (`get` leaks it), so the pointer stays valid.
        unsafe {
            *self
                .lib
                .get::<F>(name.as_bytes())
                .unwrap_or_else(|e| panic!("kernel {name}: {e}"))
        }
    }

    /// Runs `body`, which calls one kernel, as a launch of `grid` blocks of
    /// `block` threads.
    pub(crate) fn launch(&self, grid: [u32; 3], block: [u32; 3], body: impl Fn() + Sync) {
        let _one_at_a_time = self.launching.lock().expect("launch lock");
        // SAFETY: the helpers' signatures are those of emulate.hpp.
        let (dims, begin, set_thread) = unsafe {
            (
                self.function::<SetDims>("fno_emu_dims"),
                self.function::<BeginBlock>("fno_emu_begin_block"),
                self.function::<SetDims>("fno_emu_thread"),
            )
        };
        // SAFETY: plain stores into the library's globals.
        unsafe { dims(grid[0], grid[1], grid[2], block[0], block[1], block[2]) };
        let threads = block.iter().product();
        for b in indices(grid) {
            // SAFETY: as above; no thread of an earlier block is running.
            unsafe { begin(threads) };
            std::thread::scope(|s| {
                for t in indices(block) {
                    let body = &body;
                    s.spawn(move || {
                        // SAFETY: sets this OS thread's own indices.
                        unsafe { set_thread(b[0], b[1], b[2], t[0], t[1], t[2]) };
                        body();
                    });
                }
            });
        }
    }
}

/// Values on each side of a [`Guarded`] buffer.
const GUARD: usize = 64;

/// An output buffer for a kernel on the host with guard values on both
/// sides, so that a test also catches writes out of bounds (a GPU would
/// corrupt its neighbours silently).
pub(crate) struct Guarded<T> {
    buf: Vec<T>,
    len: usize,
    sentinel: T,
}

impl<T: Copy + PartialEq + std::fmt::Debug> Guarded<T> {
    /// `len` values of `fill`, guarded by `sentinel` (a value the kernel
    /// never writes: not NaN, which never compares equal).
    pub(crate) fn new(len: usize, fill: T, sentinel: T) -> Self {
        let mut buf = vec![sentinel; len + 2 * GUARD];
        buf[GUARD..GUARD + len].fill(fill);
        Self { buf, len, sentinel }
    }

    /// A copy of `values`, guarded by `sentinel` (for kernels that update
    /// in place).
    pub(crate) fn holding(values: &[T], sentinel: T) -> Self {
        let mut buf = vec![sentinel; values.len() + 2 * GUARD];
        buf[GUARD..GUARD + values.len()].copy_from_slice(values);
        Self {
            buf,
            len: values.len(),
            sentinel,
        }
    }

    /// The address of the first value, for a kernel to write through.
    pub(crate) fn address(&mut self) -> usize {
        self.buf[GUARD..].as_mut_ptr() as usize
    }

    /// The values, after checking that no guard value changed.
    pub(crate) fn checked(self) -> Vec<T> {
        let (before, rest) = self.buf.split_at(GUARD);
        let (values, after) = rest.split_at(self.len);
        for (side, guard) in [("before", before), ("after", after)] {
            if let Some(i) = guard.iter().position(|&v| v != self.sentinel) {
                panic!(
                    "a kernel wrote {:?} {side} its output (guard value {i})",
                    guard[i]
                );
            }
        }
        values.to_vec()
    }
}
