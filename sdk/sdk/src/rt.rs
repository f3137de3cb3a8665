//! The wasm runtime pieces: panic handler and global allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

/// A panic traps. No formatting: the message is never rendered, so `core::fmt` stays out.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
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
