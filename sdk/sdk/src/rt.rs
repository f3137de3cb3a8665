//! The wasm runtime pieces: panic handler and global allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

/// A panic traps. No formatting: the message is never rendered, so `core::fmt` stays out
/// (the `panic-message` feature logs it first).
#[cfg(not(feature = "panic-message"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    wasm32::unreachable()
}

/// With the `panic-message` feature, a panic logs `panicked at FILE:LINE:COL:` and,
/// on the next line, its message (at most 512 bytes in all) through `debug_log`, then
/// traps.
#[cfg(feature = "panic-message")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    struct Buf {
        bytes: [u8; 512],
        len: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            // (cut at a character boundary when full)
            for c in s.chars() {
                let mut tmp = [0u8; 4];
                let e = c.encode_utf8(&mut tmp).as_bytes();
                if self.len + e.len() > self.bytes.len() {
                    return Err(core::fmt::Error);
                }
                self.bytes[self.len..self.len + e.len()].copy_from_slice(e);
                self.len += e.len();
            }
            Ok(())
        }
    }
    let mut b = Buf {
        bytes: [0; 512],
        len: 0,
    };
    let _ = write!(b, "{info}");
    // (the buffer holds whole characters only)
    if let Ok(text) = core::str::from_utf8(&b.bytes[..b.len]) {
        crate::env::log(text);
    }
    wasm32::unreachable()
}

const PAGE: usize = 65536;

/// A bump allocator that never frees. Every call runs in a fresh instance, so this is
/// correct, and it is the fastest there is. `realloc` of the latest allocation grows it in
/// place (a growing `Vec` does not copy).
struct Bump;

// Single-threaded: wasm32v1-none has no threads.
static mut NEXT: usize = 0;
static mut END: usize = 0;

unsafe extern "C" {
    /// Defined by the linker: the first byte after the stack and static data.
    static __heap_base: u8;
}

/// Bytes the heap can hand out (at alignment 1) without growing memory: a storage read
/// sizes its first try by it, so that a read never grows memory (4,000 gas a page) for
/// room its value does not need.
pub(crate) fn room() -> usize {
    // SAFETY: single-threaded; plain reads and writes of the statics.
    unsafe {
        Bump::init();
        END - NEXT
    }
}

impl Bump {
    /// Sets the statics up before the first allocation.
    #[inline]
    unsafe fn init() {
        // SAFETY: single-threaded; plain reads and writes of the statics.
        unsafe {
            if NEXT == 0 {
                NEXT = &raw const __heap_base as usize;
                END = wasm32::memory_size(0) * PAGE;
            }
        }
    }

    /// Makes `[NEXT, NEXT + size)` available at `align`, growing memory; traps on failure.
    #[inline]
    unsafe fn reserve(align: usize, size: usize) -> usize {
        // SAFETY: single-threaded; plain reads and writes of the statics.
        unsafe {
            Self::init();
            let start = (NEXT + align - 1) & !(align - 1);
            let Some(new_next) = start.checked_add(size) else {
                wasm32::unreachable()
            };
            if new_next > END {
                let pages = (new_next - END).div_ceil(PAGE);
                if wasm32::memory_grow(0, pages) == usize::MAX {
                    wasm32::unreachable()
                }
                END += pages * PAGE;
            }
            NEXT = new_next;
            start
        }
    }
}

unsafe impl GlobalAlloc for Bump {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `reserve`.
        unsafe { Self::reserve(layout.align(), layout.size()) as *mut u8 }
    }

    #[inline]
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: single-threaded; `ptr` was allocated with `layout` by us.
        unsafe {
            let old_end = ptr as usize + layout.size();
            if old_end == NEXT {
                // The latest allocation: grow or shrink it in place.
                if new_size <= layout.size() {
                    NEXT = ptr as usize + new_size;
                } else {
                    Self::reserve(1, new_size - layout.size());
                }
                return ptr;
            }
            if new_size <= layout.size() {
                return ptr;
            }
            let new = Self::reserve(layout.align(), new_size) as *mut u8;
            core::ptr::copy_nonoverlapping(ptr, new, layout.size());
            new
        }
    }
}

#[global_allocator]
static ALLOC: Bump = Bump;
