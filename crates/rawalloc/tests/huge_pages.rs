//! Tables in huge pages: the reserve keeps contents and adds exactly one huge page of slack
//! to large tables, and (where the kernel offers transparent huge pages) a large table
//! written after the advice is backed by huge pages.

use rawalloc::{HUGE_PAGE, huge_slack, reserve_in_huge_pages};

#[test]
fn small_tables_get_no_slack() {
    let mut t: Vec<u32> = vec![1, 2, 3];
    reserve_in_huge_pages(&mut t, 1000);
    assert!(t.capacity() >= 1000);
    assert!(t.capacity() < 1000 + HUGE_PAGE / 4);
    assert_eq!(t, [1, 2, 3]);
    assert_eq!(huge_slack::<u32>(HUGE_PAGE / 4 - 1), 0);
    assert_eq!(huge_slack::<u64>(HUGE_PAGE / 8), HUGE_PAGE / 8);
    assert_eq!(
        huge_slack::<()>(usize::MAX),
        0,
        "zero-sized elements need no pages"
    );
}

#[test]
fn large_tables_get_one_huge_page_of_slack() {
    let n = 3 * HUGE_PAGE / 4;
    let mut t: Vec<u32> = (0..10).collect();
    reserve_in_huge_pages(&mut t, n);
    assert_eq!(t.capacity(), n + HUGE_PAGE / 4);
    assert_eq!(t, (0..10).collect::<Vec<_>>());
    // Room enough already: nothing changes.
    let cap = t.capacity();
    reserve_in_huge_pages(&mut t, n);
    assert_eq!(t.capacity(), cap);
}

/// The `AnonHugePages` of the mapping of this process that holds `addr`, in KiB.
#[cfg(all(target_os = "linux", not(miri)))]
fn anon_huge_kib(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-')
            && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
        {
            inside = (lo..hi).contains(&addr);
        } else if inside && let Some(rest) = line.strip_prefix("AnonHugePages:") {
            return rest.trim().trim_end_matches("kB").trim().parse().ok();
        }
    }
    None
}

#[cfg(all(target_os = "linux", not(miri)))]
#[test]
fn a_large_table_is_backed_by_huge_pages() {
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
    if !thp.is_ok_and(|s| s.contains("[always]") || s.contains("[madvise]")) {
        eprintln!("transparent huge pages are off here: nothing to check");
        return;
    }
    let fallbacks = thp_fallbacks();
    let n = 8 * HUGE_PAGE / 4;
    let mut t: Vec<u32> = Vec::new();
    reserve_in_huge_pages(&mut t, n);
    t.resize(n, 7);
    let addr = t.as_ptr().addr() + HUGE_PAGE;
    let kib = anon_huge_kib(addr).expect("the table's mapping is listed");
    assert!(t.iter().all(|&x| x == 7));
    // Of its 16 MiB, the seven huge pages wholly inside it, touched. Without the advice the
    // kernel does not even try; with it, it may fall back to small pages when no huge page
    // is free (memory fragmented), which it counts.
    if kib < 6 * 2048 && thp_fallbacks() > fallbacks {
        eprintln!("the kernel had no huge page to give ({kib} KiB): nothing to check");
        return;
    }
    assert!(kib >= 6 * 2048, "only {kib} KiB in huge pages");
}

/// How many times the kernel fell back to small pages where huge ones were asked for.
#[cfg(all(target_os = "linux", not(miri)))]
fn thp_fallbacks() -> u64 {
    let vmstat = std::fs::read_to_string("/proc/vmstat").unwrap_or_default();
    vmstat
        .lines()
        .find_map(|l| l.strip_prefix("thp_fault_fallback "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
