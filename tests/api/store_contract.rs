//! The storage contract, run against both backends: the same answers from each.

use std::sync::Arc;
use std::time::Duration;

use eid_gateway::clock::Timestamp;
use eid_gateway::config::{Environment, Settings};
use eid_gateway::store::{
    ListAppends, Log, LogHead, PutMode, SharedStore, Table, Taken, WriteBatch,
};

use crate::every_store;
use crate::helpers::{Backend, test_settings};

async fn open(backend: Backend) -> (SharedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings: Settings = test_settings(backend, dir.path());
    let _ = Environment::Dev;
    (
        eid_gateway::store::open(&settings.store).await.unwrap(),
        dir,
    )
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + ms)
}

every_store!(
    records_are_written_read_and_deleted,
    insert_new_writes_only_once,
    get_many_answers_in_order_with_gaps,
    expiring_entries_expire_by_the_injected_clock,
    if_absent_refuses_a_live_entry_but_not_an_expired_one,
    take_is_single_use_even_under_concurrency,
    take_once_leaves_the_winners_mark_for_every_later_taker,
    take_once_of_an_expired_or_missing_entry_marks_nothing,
    concurrent_if_absent_writes_let_exactly_one_through,
    counters_count_within_their_window_and_restart_after,
    log_appends_at_the_expected_sequence_only,
    lists_append_in_order_and_stay_separate,
    many_list_appends_land_in_order_after_what_was_there,
    a_write_batch_lands_its_records_and_list_entries_together,
);

fn appends(entries: ListAppends) -> WriteBatch {
    WriteBatch {
        records: Vec::new(),
        appends: entries,
    }
}

async fn a_write_batch_lands_its_records_and_list_entries_together(b: Backend) {
    let (s, _d) = open(b).await;
    s.write_batch(WriteBatch::default()).await.unwrap();
    s.write_batch(WriteBatch {
        records: vec![
            (Table::HistoryBatches, "b1".into(), b"header".to_vec()),
            (Table::Meta, "m".into(), b"meta".to_vec()),
        ],
        appends: ListAppends::from_iter([("history:a", b"ref-1"), ("history:b", b"ref-2")]),
    })
    .await
    .unwrap();
    assert_eq!(
        s.get_many(Table::HistoryBatches, &["b1", "b2"])
            .await
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(&b"header"[..]), None]
    );
    assert_eq!(
        s.get(Table::Meta, "m").await.unwrap(),
        Some(b"meta".to_vec())
    );
    assert_eq!(
        s.list_range("history:b", 1, 10).await.unwrap(),
        vec![(1, b"ref-2".to_vec())]
    );
    // Records alone are a batch too.
    s.write_batch(WriteBatch {
        records: vec![(Table::HistoryBatches, "b2".into(), b"h2".to_vec())],
        appends: ListAppends::default(),
    })
    .await
    .unwrap();
    assert_eq!(
        s.get(Table::HistoryBatches, "b2").await.unwrap(),
        Some(b"h2".to_vec())
    );
    assert_eq!(s.list_range("history:a", 1, 10).await.unwrap().len(), 1);
}

async fn many_list_appends_land_in_order_after_what_was_there(b: Backend) {
    let (s, _d) = open(b).await;
    s.list_push("history:a", b"0".to_vec()).await.unwrap();
    s.write_batch(appends(ListAppends::from_iter([
        ("history:a", b"1"),
        ("history:b", b"x"),
        ("history:a", b"2"),
    ])))
    .await
    .unwrap();
    s.write_batch(appends(ListAppends::default()))
        .await
        .unwrap();
    assert_eq!(
        s.list_range("history:a", 1, 10).await.unwrap(),
        vec![(1, b"0".to_vec()), (2, b"1".to_vec()), (3, b"2".to_vec())]
    );
    // Ranges may start, and limits may stop, in the middle of what one write appended.
    assert_eq!(
        s.list_range("history:a", 3, 10).await.unwrap(),
        vec![(3, b"2".to_vec())]
    );
    assert_eq!(
        s.list_range("history:a", 2, 1).await.unwrap(),
        vec![(2, b"1".to_vec())]
    );
    assert!(s.list_range("history:a", 4, 10).await.unwrap().is_empty());
    assert!(s.list_range("history:a", 1, 0).await.unwrap().is_empty());
    assert_eq!(
        s.list_range("history:b", 1, 10).await.unwrap(),
        vec![(1, b"x".to_vec())]
    );
    assert_eq!(s.list_push("history:b", b"y".to_vec()).await.unwrap(), 2);
    // Many lists interleaved in one call, the later names first: each keeps the callers' order.
    let lists = ["history:z", "history:m", "history:b"];
    let entries: ListAppends = (0..300).map(|i| (lists[i % 3], format!("{i}"))).collect();
    s.write_batch(appends(entries)).await.unwrap();
    for (k, list) in lists.iter().enumerate() {
        let got = s.list_range(list, 1, 1000).await.unwrap();
        let already = usize::from(*list == "history:b") * 2;
        let expected: Vec<Vec<u8>> = (0..300)
            .filter(|i| i % 3 == k)
            .map(|i| format!("{i}").into_bytes())
            .collect();
        assert_eq!(got.len(), already + 100, "{list}");
        assert_eq!(
            got[already..]
                .iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>(),
            expected
        );
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, (pos, _))| *pos == i as u64 + 1)
        );
        let middle = s.list_range(list, 50, 7).await.unwrap();
        assert_eq!(middle, got[49..56].to_vec(), "{list}");
    }
}

async fn lists_append_in_order_and_stay_separate(b: Backend) {
    let (s, _d) = open(b).await;
    assert!(s.list_range("history:a", 1, 10).await.unwrap().is_empty());
    assert_eq!(s.list_push("history:a", b"1".to_vec()).await.unwrap(), 1);
    assert_eq!(s.list_push("history:b", b"x".to_vec()).await.unwrap(), 1);
    assert_eq!(s.list_push("history:a", b"2".to_vec()).await.unwrap(), 2);
    assert_eq!(s.list_push("history:a", b"3".to_vec()).await.unwrap(), 3);
    assert_eq!(
        s.list_range("history:a", 2, 10).await.unwrap(),
        vec![(2, b"2".to_vec()), (3, b"3".to_vec())]
    );
    assert_eq!(
        s.list_range("history:a", 1, 1).await.unwrap(),
        vec![(1, b"1".to_vec())]
    );
    assert_eq!(
        s.list_range("history:b", 1, 10).await.unwrap(),
        vec![(1, b"x".to_vec())]
    );
    // Concurrent appends each get their own position.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.list_push("history:c", vec![i]).await.unwrap() })
        })
        .collect();
    let mut positions = Vec::new();
    for t in tasks {
        positions.push(t.await.unwrap());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=10).collect::<Vec<u64>>());
}

async fn records_are_written_read_and_deleted(b: Backend) {
    let (s, _d) = open(b).await;
    assert_eq!(s.get(Table::Accounts, "a").await.unwrap(), None);
    s.put(Table::Accounts, "a", b"one".to_vec()).await.unwrap();
    s.put(Table::Accounts, "a", b"two".to_vec()).await.unwrap();
    assert_eq!(
        s.get(Table::Accounts, "a").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(
        s.get(Table::People, "a").await.unwrap(),
        None,
        "tables are separate"
    );
    assert!(s.delete(Table::Accounts, "a").await.unwrap());
    assert!(!s.delete(Table::Accounts, "a").await.unwrap());
    assert_eq!(s.get(Table::Accounts, "a").await.unwrap(), None);
}

async fn insert_new_writes_only_once(b: Backend) {
    let (s, _d) = open(b).await;
    assert!(
        s.insert_new(Table::Meta, "k", b"first".to_vec())
            .await
            .unwrap()
    );
    assert!(
        !s.insert_new(Table::Meta, "k", b"second".to_vec())
            .await
            .unwrap()
    );
    assert_eq!(
        s.get(Table::Meta, "k").await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
}

async fn get_many_answers_in_order_with_gaps(b: Backend) {
    let (s, _d) = open(b).await;
    s.put_many(
        Table::People,
        vec![("1".into(), b"a".to_vec()), ("3".into(), b"c".to_vec())],
    )
    .await
    .unwrap();
    let got = s.get_many(Table::People, &["3", "2", "1"]).await.unwrap();
    assert_eq!(
        got.iter().collect::<Vec<_>>(),
        vec![Some(&b"c"[..]), None, Some(b"a")]
    );
    assert!(s.get_many(Table::People, &[]).await.unwrap().is_empty());
}

async fn expiring_entries_expire_by_the_injected_clock(b: Backend) {
    let (s, _d) = open(b).await;
    assert!(
        s.put_expiring(
            "otp",
            b"123456".to_vec(),
            t(60_000),
            PutMode::Overwrite,
            t(0)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.get_expiring("otp", t(59_999)).await.unwrap().as_deref(),
        Some(&b"123456"[..])
    );
    assert_eq!(s.get_expiring("otp", t(60_000)).await.unwrap(), None);
    assert_eq!(
        s.take_expiring("otp", t(60_001)).await.unwrap(),
        None,
        "an expired entry cannot be taken"
    );
}

async fn if_absent_refuses_a_live_entry_but_not_an_expired_one(b: Backend) {
    let (s, _d) = open(b).await;
    assert!(
        s.put_expiring("jti", vec![], t(1_000), PutMode::IfAbsent, t(0))
            .await
            .unwrap()
    );
    assert!(
        !s.put_expiring("jti", vec![], t(5_000), PutMode::IfAbsent, t(500))
            .await
            .unwrap()
    );
    assert!(
        s.put_expiring("jti", vec![], t(5_000), PutMode::IfAbsent, t(1_000))
            .await
            .unwrap()
    );
    assert!(
        !s.put_expiring("jti", vec![], t(9_000), PutMode::IfAbsent, t(4_000))
            .await
            .unwrap()
    );
}

async fn take_is_single_use_even_under_concurrency(b: Backend) {
    let (s, _d) = open(b).await;
    s.put_expiring(
        "challenge",
        b"c".to_vec(),
        t(60_000),
        PutMode::Overwrite,
        t(0),
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.take_expiring("challenge", t(1)).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn take_once_leaves_the_winners_mark_for_every_later_taker(b: Backend) {
    let (s, _d) = open(b).await;
    for round in 0..20 {
        let key = format!("code:{round}");
        let used = format!("code-used:{round}");
        s.put_expiring(&key, b"grant".to_vec(), t(60_000), PutMode::Overwrite, t(0))
            .await
            .unwrap();
        // Started together, each with its own mark: exactly one wins, and every other sees the
        // winner's mark — never nothing.
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (s, key, used, barrier) =
                    (Arc::clone(&s), key.clone(), used.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mark = format!("family-{i}").into_bytes();
                    (
                        mark.clone(),
                        s.take_once(&key, &used, mark, t(90_000), t(1))
                            .await
                            .unwrap(),
                    )
                })
            })
            .collect();
        let mut winner = None;
        let mut seen = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (mark, Taken::Value(v)) => {
                    assert_eq!(v, b"grant");
                    assert!(winner.replace(mark).is_none(), "two winners");
                }
                (_, Taken::Used(m)) => seen.push(m),
                (_, Taken::Absent) => panic!("a loser saw neither the entry nor the mark"),
            }
        }
        let winner = winner.expect("one winner");
        assert_eq!(seen.len(), 7);
        assert!(seen.iter().all(|m| *m == winner));
        // Later takers see it too, until the mark expires.
        assert_eq!(
            s.take_once(&key, &used, b"late".to_vec(), t(90_000), t(50_000))
                .await
                .unwrap(),
            Taken::Used(winner)
        );
        assert_eq!(
            s.take_once(&key, &used, b"later".to_vec(), t(99_000), t(90_000))
                .await
                .unwrap(),
            Taken::Absent
        );
    }
}

async fn take_once_of_an_expired_or_missing_entry_marks_nothing(b: Backend) {
    let (s, _d) = open(b).await;
    assert_eq!(
        s.take_once(
            "code:never",
            "code-used:never",
            b"m".to_vec(),
            t(60_000),
            t(0)
        )
        .await
        .unwrap(),
        Taken::Absent
    );
    assert_eq!(s.get_expiring("code-used:never", t(1)).await.unwrap(), None);
    s.put_expiring("code:old", b"v".to_vec(), t(10), PutMode::Overwrite, t(0))
        .await
        .unwrap();
    assert_eq!(
        s.take_once("code:old", "code-used:old", b"m".to_vec(), t(60_000), t(10))
            .await
            .unwrap(),
        Taken::Absent
    );
    assert_eq!(s.get_expiring("code-used:old", t(11)).await.unwrap(), None);
}

async fn concurrent_if_absent_writes_let_exactly_one_through(b: Backend) {
    let (s, _d) = open(b).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.put_expiring("replay", vec![], t(60_000), PutMode::IfAbsent, t(0))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

async fn counters_count_within_their_window_and_restart_after(b: Backend) {
    let (s, _d) = open(b).await;
    assert_eq!(s.increment("rl", t(1_000), t(0)).await.unwrap(), 1);
    assert_eq!(s.increment("rl", t(1_000), t(10)).await.unwrap(), 2);
    // The window's end is fixed when the counter is created.
    assert_eq!(s.increment("rl", t(9_000), t(20)).await.unwrap(), 3);
    assert_eq!(
        s.increment("rl", t(2_000), t(1_000)).await.unwrap(),
        1,
        "a new window starts at 1"
    );
}

async fn log_appends_at_the_expected_sequence_only(b: Backend) {
    let (s, _d) = open(b).await;
    assert_eq!(s.log_head(Log::Audit).await.unwrap(), None);
    let head = |seq: u64| LogHead {
        seq,
        hash: format!("h{seq}"),
    };
    assert!(
        s.append_log(Log::Audit, b"e1".to_vec(), head(1))
            .await
            .unwrap()
    );
    assert!(
        !s.append_log(Log::Audit, b"dup".to_vec(), head(1))
            .await
            .unwrap(),
        "seq 1 is taken"
    );
    assert!(
        !s.append_log(Log::Audit, b"gap".to_vec(), head(3))
            .await
            .unwrap(),
        "no gaps"
    );
    assert!(
        s.append_log(Log::Audit, b"e2".to_vec(), head(2))
            .await
            .unwrap()
    );
    assert_eq!(s.log_head(Log::Audit).await.unwrap(), Some(head(2)));
    let all = s.read_log(Log::Audit, 1, 10).await.unwrap();
    assert_eq!(all, vec![(1, b"e1".to_vec()), (2, b"e2".to_vec())]);
    assert_eq!(
        s.read_log(Log::Audit, 2, 10).await.unwrap(),
        vec![(2, b"e2".to_vec())]
    );
}

#[tokio::test]
async fn the_embedded_store_sweeps_expired_entries() {
    let (s, _d) = open(Backend::Embedded).await;
    s.put_expiring("old", vec![1], t(10), PutMode::Overwrite, t(0))
        .await
        .unwrap();
    s.put_expiring("new", vec![2], t(10_000), PutMode::Overwrite, t(0))
        .await
        .unwrap();
    // Rewritten with a later expiry: must survive a sweep at the old expiry.
    s.put_expiring("moved", vec![3], t(10), PutMode::Overwrite, t(0))
        .await
        .unwrap();
    s.put_expiring("moved", vec![4], t(10_000), PutMode::Overwrite, t(1))
        .await
        .unwrap();
    assert_eq!(s.sweep_expired(t(100)).await.unwrap(), 1);
    assert_eq!(s.get_expiring("new", t(100)).await.unwrap(), Some(vec![2]));
    assert_eq!(
        s.get_expiring("moved", t(100)).await.unwrap(),
        Some(vec![4])
    );
}

#[tokio::test]
async fn an_acknowledged_embedded_write_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    {
        let s = eid_gateway::store::embedded::EmbeddedStore::open(&path).unwrap();
        use eid_gateway::store::Store;
        s.put(Table::Accounts, "kept", b"yes".to_vec())
            .await
            .unwrap();
        s.put_expiring("marker", vec![], t(60_000), PutMode::IfAbsent, t(0))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let s = eid_gateway::store::embedded::EmbeddedStore::open(&path).unwrap();
    use eid_gateway::store::Store;
    assert_eq!(
        s.get(Table::Accounts, "kept").await.unwrap(),
        Some(b"yes".to_vec())
    );
    assert!(
        !s.put_expiring("marker", vec![], t(60_000), PutMode::IfAbsent, t(1))
            .await
            .unwrap(),
        "replay markers survive a restart"
    );
}

#[tokio::test]
async fn lists_of_a_store_written_with_tuple_keys_are_moved_whole_at_open() {
    use eid_gateway::store::embedded::{EmbeddedStore, layout};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut lists = txn.open_table(layout::TUPLE_KEYED_LISTS).unwrap();
            let mut lengths = txn.open_table(layout::LIST_LENGTHS).unwrap();
            for (list, n) in [("history:001090000001", 3u64), ("history:00109000000", 2)] {
                for position in 1..=n {
                    let entry = format!("{list}/{position}");
                    lists.insert((list, position), entry.as_bytes()).unwrap();
                }
                lengths.insert(list, n).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    let s = EmbeddedStore::open(&path).unwrap();
    use eid_gateway::store::Store;
    let entries = |list: &str, n: u64| -> Vec<(u64, Vec<u8>)> {
        (1..=n)
            .map(|p| (p, format!("{list}/{p}").into_bytes()))
            .collect()
    };
    assert_eq!(
        s.list_range("history:001090000001", 1, 10).await.unwrap(),
        entries("history:001090000001", 3)
    );
    // A name that is a prefix of another keeps only its own entries.
    assert_eq!(
        s.list_range("history:00109000000", 1, 10).await.unwrap(),
        entries("history:00109000000", 2)
    );
    assert_eq!(
        s.list_range("history:001090000001", 3, 10).await.unwrap(),
        entries("history:001090000001", 3)[2..]
    );
    assert_eq!(
        s.list_push("history:00109000000", b"new".to_vec())
            .await
            .unwrap(),
        3
    );
    drop(s);
    // The old tables are gone, so a second open has nothing to move.
    let db = redb::Database::open(&path).unwrap();
    use redb::{ReadableDatabase, TableHandle};
    let names: Vec<String> = db
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect();
    // Nor the lengths table: lengths come from the segments.
    assert!(
        !names.iter().any(|n| n == "lists" || n == "list_lengths"),
        "{names:?}"
    );
    drop(db);
    let s = EmbeddedStore::open(&path).unwrap();
    assert_eq!(
        s.list_range("history:00109000000", 1, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn list_names_too_long_for_their_key_are_refused() {
    use eid_gateway::store::embedded::layout::list_key;
    assert!(list_key(&"a".repeat(65_535), 1).is_ok());
    assert!(list_key(&"a".repeat(65_536), 1).is_err());
}

every_store!(
    claim_and_append_is_single_use_and_all_or_nothing,
    request_counters_count_per_window
);

async fn claim_and_append_is_single_use_and_all_or_nothing(b: Backend) {
    let (s, _d) = open(b).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.claim_and_append("used:jti-1", t(60_000), "hist:a", vec![i], t(0))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(
        s.list_range("hist:a", 1, 100).await.unwrap().len(),
        1,
        "only the winner's entry"
    );
    // After the marker expires the key can be claimed again.
    assert!(
        s.claim_and_append("used:jti-1", t(120_000), "hist:a", vec![99], t(60_000))
            .await
            .unwrap()
    );
    assert_eq!(s.list_range("hist:a", 1, 100).await.unwrap().len(), 2);
}

async fn request_counters_count_per_window(b: Backend) {
    let (s, _d) = open(b).await;
    assert_eq!(
        s.count_request("rate:x", 1, t(1_000), t(0)).await.unwrap(),
        1
    );
    assert_eq!(
        s.count_request("rate:x", 1, t(1_000), t(500))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.count_request("rate:x", 2_048, t(1_000), t(600))
            .await
            .unwrap(),
        2_050,
        "a batch counts its records"
    );
    assert_eq!(
        s.count_request("rate:y", 1, t(1_000), t(500))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.count_request("rate:x", 1, t(2_000), t(1_000))
            .await
            .unwrap(),
        1,
        "a new window"
    );
}
