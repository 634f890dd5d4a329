//! Debug helper: prints how a message's parts are sorted and what the text decoders find.
use mailerd_analyze::mail::Message;
fn main() {
    for f in std::env::args().skip(1) {
        let raw = std::fs::read(&f).unwrap_or_default();
        if let Some(m) = Message::parse(&raw[..]) {
            let p = mailerd_analyze::mime::collect(&m);
            println!(
                "{f}: root={} report={:?} dsn={} foreign={:?} orig={:?}",
                p.root_type,
                p.report_type,
                p.dsn.len(),
                p.foreign,
                p.original.as_ref().map(|o| &o.info)
            );
            let text = if p.plain.trim().is_empty() {
                &p.html_text
            } else {
                &p.plain
            };
            let cut = mailerd_analyze::mime::split_original(text);
            let human = &text[..cut.unwrap_or(text.len())];
            println!(
                "cut={cut:?} human={:?}",
                human.chars().take(1500).collect::<String>()
            );
            let low = human.to_ascii_lowercase();
            let ctx = mailerd_analyze::mta::Ctx::text_only(human, &low);
            for r in mailerd_analyze::mta::decode(&ctx) {
                println!("  {r:?}");
            }
        }
    }
}
