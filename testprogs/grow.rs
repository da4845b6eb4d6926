// A Vec that grows: every reallocation is alloc's (RawVecInner, finish_grow, __rust_alloc,
// malloc), and memtrace must charge them to fill_vec().
//
// usage: grow-rs
//   fill_vec() pushes 500,000 u64s; blocks of 64 KiB and more are mmapped (the threshold is
//   fixed, so the kept buffer, 2^19 u64s, is one mapping of 4 MiB and a page); done().
extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}
const M_MMAP_THRESHOLD: i32 = -3;

static mut SINK: usize = 0;

#[no_mangle]
#[inline(never)]
pub extern "C" fn done() {
    unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!(SINK), 1) }
}

#[inline(never)]
fn fill_vec() -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..500_000u64 {
        v.push(i);
    }
    v
}

fn main() {
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 64 << 10);
    }
    let kept = fill_vec();
    done();
    unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!(SINK), kept.len()) }
}
