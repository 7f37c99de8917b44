//! Tests of shared backend streams: the splitter, the backoff, hubs and subscriptions.

#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn the_splitter_cuts_complete_events_across_chunks_and_tracks_ids() {
    let mut s = Splitter::new();
    let mut out = Vec::new();
    s.split(
        Bytes::from_static(b": hi\n\nid: 1\ndata: a\n\nid: 2\nda"),
        &mut out,
        1024,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].0[..], b": hi\n\nid: 1\ndata: a\n\n");
    assert_eq!(&*out[0].1, "1");
    assert!(!s.at_boundary());
    s.split(
        Bytes::from_static(b"ta: b\n\ndata: c\r\n\r\nretry: 250\n"),
        &mut out,
        1024,
    )
    .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(&out[1].0[..], b"id: 2\ndata: b\n\n");
    assert_eq!(&*out[2].1, "2", "an event without id keeps the last id");
    assert_eq!(s.retry(), Some(250));
    s.restart();
    assert_eq!(s.last_id(), "2");
    assert_eq!(s.retry(), Some(250));
    let err = s.split(Bytes::from(vec![b'x'; 2000]), &mut out, 1024);
    assert!(err.is_err());
}

#[test]
fn backoff_starts_at_the_backends_retry_and_doubles_to_the_cap() {
    let mut b = None;
    assert_eq!(next_backoff(&mut b, Some(200)), Duration::from_millis(200));
    assert_eq!(next_backoff(&mut b, Some(200)), Duration::from_millis(400));
    let mut b = None;
    assert_eq!(next_backoff(&mut b, None), DEFAULT_RETRY);
    for _ in 0..10 {
        next_backoff(&mut b, None);
    }
    assert_eq!(next_backoff(&mut b, None), MAX_BACKOFF);
}

fn hub_with(events: &[(&str, &str)], options: SharedOptions) -> (Hubs, Subscription) {
    let hubs = Hubs::default();
    let (sub, created) = hubs.join(
        HubKey {
            revision_id: "r".into(),
            url: "http://b/e".into(),
        },
        &options,
    );
    assert!(created);
    sub.hub.write().status = Status::Live;
    let mut batch: Vec<(Bytes, Arc<str>)> = events
        .iter()
        .map(|(id, data)| {
            (
                Bytes::from(format!("id: {id}\ndata: {data}\n\n")),
                Arc::from(*id),
            )
        })
        .collect();
    sub.hub.publish(&mut batch);
    (hubs, sub)
}

#[tokio::test]
async fn replay_starts_after_a_held_id_and_reports_a_gap_otherwise() {
    let options = SharedOptions {
        replay_events: 3,
        ..SharedOptions::default()
    };
    let (_hubs, mut sub) = hub_with(&[("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")], options);
    let mut out = VecDeque::new();
    sub.position(Some("2"));
    assert!(matches!(sub.next(&mut out).await, Delivery::Events));
    assert_eq!(out.len(), 2);
    assert_eq!(&out[0][..], b"id: 3\ndata: c\n\n");
    let mut other = Subscription::new(sub.hub.clone());
    other.position(Some("1"));
    match other.next(&mut out).await {
        Delivery::Comment(c) => {
            assert_eq!(
                &c[..],
                b": replay gap: events after 1 are no longer held\n\n"
            )
        }
        _ => panic!("a gap comment"),
    }
    assert_eq!(sub.hub.read().subscribers, 2);
    drop(other);
    assert_eq!(sub.hub.read().subscribers, 1);
}

#[tokio::test]
async fn a_subscriber_left_behind_by_the_queue_bound_is_too_slow() {
    let options = SharedOptions {
        queue_bytes: 40,
        replay_bytes: 40,
        ..SharedOptions::default()
    };
    let (_hubs, mut sub) = hub_with(&[("1", "a")], options);
    sub.position(None);
    let mut batch: Vec<(Bytes, Arc<str>)> = (0..5)
        .map(|i| (Bytes::from(format!("id: {i}\ndata: x\n\n")), Arc::from("x")))
        .collect();
    sub.hub.publish(&mut batch);
    let mut out = VecDeque::new();
    match sub.next(&mut out).await {
        Delivery::End(why) => assert_eq!(why, TOO_SLOW),
        _ => panic!("too slow"),
    }
}
