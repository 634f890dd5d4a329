//! Debug helper: prints how a message's parts are sorted.
use mail_parser::MessageParser;
fn main() {
    for f in std::env::args().skip(1) {
        let raw = std::fs::read(&f).unwrap_or_default();
        let s = String::from_utf8_lossy(&raw);
        let (_, cut) = mailerd_analyze::mime::split_original(&s);
        println!(
            "cut={cut:?} inline={:?}",
            cut.and_then(|c| mailerd_analyze::mime::inline_original(&s[c..]))
                .map(|o| o.info)
        );
        if let Some(m) = MessageParser::default().parse(&raw[..]) {
            let p = mailerd_analyze::mime::collect(&m);
            println!(
                "{f}: root={} report={:?} dsn={} plain={:?}\nhtml={:?}\nforeign={:?} orig={:?}",
                p.root_type,
                p.report_type,
                p.dsn.len(),
                p.plain.chars().take(600).collect::<String>(),
                p.html_text.chars().take(300).collect::<String>(),
                p.foreign,
                p.original.map(|o| o.info)
            );
        }
    }
}
#[allow(dead_code)]
fn t() {}
