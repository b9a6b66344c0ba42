use super::*;
use std::sync::mpsc;

/// An output that records what reaches it and can be held up until released.
#[derive(Clone, Default)]
struct Sink {
    written: Arc<Mutex<Vec<u8>>>,
    gate: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
}

impl Sink {
    fn text(&self) -> String {
        let written = self.written.lock().unwrap();
        String::from_utf8(written.clone()).unwrap()
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(gate) = &self.gate {
            let _ = gate.lock().unwrap().recv();
        }
        self.written.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn line(writers: &Batched, urgent: bool, text: &str) {
    let mut writer = LineWriter {
        shared: Arc::clone(&writers.0),
        urgent,
    };
    writer.write_all(text.as_bytes()).unwrap();
}

fn wait_for(sink: &Sink, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if sink.text().contains(text) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
    let sink = Sink::default();
    let (writers, guard) = Batched::start(sink.clone(), 1 << 20, Duration::from_secs(60)).unwrap();
    let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    for i in 0..1000 {
        line(&writers, false, &format!("line {i}\n"));
    }
    drop(guard);
    assert_eq!(sink.text(), expected);
}

#[test]
fn ordinary_lines_wait_for_the_batch_and_a_warning_is_written_at_once() {
    let sink = Sink::default();
    let (writers, guard) = Batched::start(sink.clone(), 1 << 20, Duration::from_secs(60)).unwrap();
    line(&writers, false, "access\n");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sink.text(), "", "an ordinary line waits for its batch");
    line(&writers, true, "warning\n");
    assert!(wait_for(&sink, "warning"), "the warning was not written");
    assert_eq!(sink.text(), "access\nwarning\n");
    drop(guard);
}

#[test]
fn a_batch_is_written_after_its_interval() {
    let sink = Sink::default();
    let (writers, guard) =
        Batched::start(sink.clone(), 1 << 20, Duration::from_millis(20)).unwrap();
    line(&writers, false, "first\n");
    assert!(wait_for(&sink, "first"));
    line(&writers, false, "second\n");
    assert!(wait_for(&sink, "second"));
    drop(guard);
}

#[test]
fn a_stuck_output_never_holds_up_a_logger_and_lines_beyond_the_bound_are_dropped() {
    let (release, gate) = mpsc::channel();
    let sink = Sink {
        gate: Some(Arc::new(Mutex::new(gate))),
        ..Sink::default()
    };
    let (writers, guard) = Batched::start(sink.clone(), 1000, Duration::from_millis(1)).unwrap();
    // The first batch goes to the stuck output; what follows queues up to the bound.
    line(&writers, true, "stuck\n");
    std::thread::sleep(Duration::from_millis(50));
    let before = dropped_lines();
    let started = Instant::now();
    for _ in 0..200 {
        line(&writers, false, "0123456789\n");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "loggers were held up"
    );
    let dropped = dropped_lines() - before;
    assert!((100..=200).contains(&dropped), "{dropped} lines dropped");
    for _ in 0..10 {
        let _ = release.send(());
    }
    drop(release);
    drop(guard);
    let text = sink.text();
    let kept = text.matches("0123456789").count() as u64;
    assert!(text.starts_with("stuck\n"));
    assert_eq!(
        kept + dropped,
        200,
        "every line is either written or counted"
    );
}
