//! Charts of the statistics page, drawn on the server as SVG (D66): no script, nothing to load.
//! Every chart is an image with an accessible name and description (`role="img"`,
//! `aria-labelledby` its `<title>` and `<desc>`), scales to its container (a `viewBox`, width
//! 100 %) and reads without colour: values are written next to their bars, stacked series are told
//! apart by hatch patterns with a legend in the same patterns, and the heat map writes its numbers
//! in the cells. The data table is always beside the chart.

use std::fmt::Write;

/// Text for XML (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The accessible frame of a chart: its name (`title`) and description (`desc`).
pub struct Frame<'a> {
    /// Unique on the page (ids of the title, the description and the patterns derive from it).
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
}

const INK: &str = "#1b1f24";
const LINE: &str = "#c9ced6";
const FILL: &str = "#0b4f8a";

fn open(f: &Frame, w: i64, h: i64, class: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {class}\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         preserveAspectRatio=\"xMinYMin meet\" font-family=\"system-ui, sans-serif\" \
         font-size=\"12\"><title id=\"{id}-t\">{t}</title><desc id=\"{id}-d\">{d}</desc>",
        id = esc(f.id),
        t = esc(f.title),
        d = esc(f.desc),
    )
}

/// Length of a bar for `v` of `max` in `span` units (0 for nothing, at least 1 for something).
fn scaled(v: i64, max: i64, span: i64) -> i64 {
    if max <= 0 || v <= 0 {
        0
    } else {
        (v * span / max).max(1)
    }
}

/// Horizontal bars, one per item (label, value, the value as written at the bar's end).
pub fn bars(f: &Frame, items: &[(String, i64, String)]) -> String {
    const W: i64 = 640;
    const LABEL: i64 = 200;
    const ROW: i64 = 24;
    let span = W - LABEL - 60;
    let max = items.iter().map(|(_, v, _)| *v).max().unwrap_or(0);
    let h = ROW * items.len().max(1) as i64 + 8;
    let mut s = open(f, W, h, "bars");
    for (i, (label, v, shown_value)) in items.iter().enumerate() {
        let y = 4 + i as i64 * ROW;
        let len = scaled(*v, max, span);
        let shown: String = label.chars().take(30).collect();
        let _ = write!(
            s,
            "<g class=\"bar\"><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"{INK}\">{l}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{len}\" height=\"{bh}\" fill=\"{FILL}\"/>\
             <text x=\"{vx}\" y=\"{ty}\" fill=\"{INK}\">{sv}</text></g>",
            lx = LABEL - 8,
            ty = y + 15,
            l = esc(&shown),
            bh = ROW - 6,
            vx = LABEL + len + 6,
            sv = esc(shown_value),
        );
    }
    s.push_str("</svg>");
    s
}

/// Hatch patterns that tell stacked series apart without colour (solid, diagonal, dots, cross).
fn patterns(id: &str, n: usize) -> String {
    let mut s = String::from("<defs>");
    for i in 0..n {
        let pid = format!("{}-p{i}", esc(id));
        let body = match i % 4 {
            0 => format!("<rect width=\"8\" height=\"8\" fill=\"{FILL}\"/>"),
            1 => format!(
                "<rect width=\"8\" height=\"8\" fill=\"#fff\"/><path d=\"M0 8L8 0M-2 2L2 -2M6 10L10 6\" stroke=\"{INK}\" stroke-width=\"2\"/>"
            ),
            2 => format!(
                "<rect width=\"8\" height=\"8\" fill=\"#dfe6ee\"/><circle cx=\"4\" cy=\"4\" r=\"1.8\" fill=\"{INK}\"/>"
            ),
            _ => format!(
                "<rect width=\"8\" height=\"8\" fill=\"#fff\"/><path d=\"M0 0L8 8M8 0L0 8\" stroke=\"{FILL}\" stroke-width=\"1.5\"/>"
            ),
        };
        let _ = write!(
            s,
            "<pattern id=\"{pid}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">{body}</pattern>"
        );
    }
    s.push_str("</defs>");
    s
}

/// Stacked columns: one column per step (`labels`), one segment per series, each series in its
/// own pattern with a legend; the total of a column is written above it.
pub fn stacked(f: &Frame, labels: &[String], series: &[(String, Vec<i64>)]) -> String {
    const H: i64 = 220;
    const TOP: i64 = 40;
    const BOTTOM: i64 = 40;
    let n = labels.len().max(1) as i64;
    let col = (640 / n).clamp(14, 48);
    let w = (col * n + 40).max(320);
    let totals: Vec<i64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let span = H - TOP - BOTTOM;
    let mut s = open(f, w, H, "stacked");
    s.push_str(&patterns(f.id, series.len()));
    for (k, (name, _)) in series.iter().enumerate() {
        let x = 20 + k as i64 * 130;
        let _ = write!(
            s,
            "<g class=\"legend\"><rect x=\"{x}\" y=\"6\" width=\"14\" height=\"14\" fill=\"url(#{id}-p{k})\" stroke=\"{INK}\"/>\
             <text x=\"{tx}\" y=\"18\" fill=\"{INK}\">{name}</text></g>",
            id = esc(f.id),
            tx = x + 20,
            name = esc(name),
        );
    }
    let base = H - BOTTOM;
    let _ = write!(
        s,
        "<line x1=\"20\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\" stroke=\"{LINE}\"/>",
        x2 = w - 10
    );
    let every = (labels.len() / 8).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x = 20 + i as i64 * col;
        let mut y = base;
        s.push_str("<g class=\"column\">");
        for (k, (_, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0);
            let len = scaled(v, max, span);
            if len > 0 {
                y -= len;
                let _ = write!(
                    s,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{len}\" fill=\"url(#{id}-p{k})\" stroke=\"{INK}\" stroke-width=\"0.5\"/>",
                    bw = col - 4,
                    id = esc(f.id),
                );
            }
        }
        let _ = write!(
            s,
            "<text x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{INK}\">{t}</text>",
            cx = x + (col - 4) / 2,
            ty = y - 4,
            t = totals[i],
        );
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x=\"{x}\" y=\"{ly}\" font-size=\"10\" fill=\"{INK}\">{l}</text>",
                ly = base + 16,
                l = esc(label),
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

/// A shade for `v` of `max`: five steps from white to the brand colour, with the ink that reads
/// on it (the numbers are written in every cell, so the shade is only a help).
fn shade(v: i64, max: i64) -> (&'static str, &'static str) {
    const STEPS: [(&str, &str); 5] = [
        ("#ffffff", INK),
        ("#dbe7f3", INK),
        ("#a9c6e3", INK),
        ("#4f86bd", "#ffffff"),
        ("#0b4f8a", "#ffffff"),
    ];
    if max <= 0 || v <= 0 {
        return STEPS[0];
    }
    STEPS[((v * 4 + max - 1) / max).clamp(1, 4) as usize]
}

/// A heat map: `rows` × `cols` cells, each shaded by its value and with the value written in it.
pub fn heatmap(f: &Frame, rows: &[String], cols: &[String], values: &[Vec<i64>]) -> String {
    const LABEL: i64 = 40;
    const CELL: i64 = 26;
    let w = LABEL + CELL * cols.len() as i64 + 4;
    let h = 20 + CELL * rows.len() as i64 + 4;
    let max = values.iter().flatten().copied().max().unwrap_or(0);
    let mut s = open(f, w, h, "heatmap");
    for (j, c) in cols.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"14\" text-anchor=\"middle\" font-size=\"10\" fill=\"{INK}\">{c}</text>",
            x = LABEL + j as i64 * CELL + CELL / 2,
            c = esc(c),
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 20 + i as i64 * CELL;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{ty}\" fill=\"{INK}\">{r}</text>",
            ty = y + 17,
            r = esc(r),
        );
        for j in 0..cols.len() {
            let v = values.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0);
            let (bg, ink) = shade(v, max);
            let x = LABEL + j as i64 * CELL;
            let _ = write!(
                s,
                "<g class=\"cell\"><rect x=\"{x}\" y=\"{y}\" width=\"{c}\" height=\"{c}\" fill=\"{bg}\" stroke=\"{LINE}\"/>\
                 <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{ink}\">{v}</text></g>",
                c = CELL,
                tx = x + CELL / 2,
                ty = y + 17,
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame<'static> {
        Frame {
            id: "c1",
            title: "Ärenden & frågor",
            desc: "Per kö",
        }
    }

    /// Every element opened is closed, in order (enough of XML to catch a broken chart).
    fn well_formed(svg: &str) {
        let tag = regex::Regex::new(r"<(/?)([a-zA-Z]+)[^>]*?(/?)>").unwrap();
        let mut stack: Vec<String> = vec![];
        for c in tag.captures_iter(svg) {
            let name = c[2].to_string();
            match (&c[1], &c[3]) {
                ("/", _) => assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "{svg}"),
                (_, "/") => {}
                _ => stack.push(name),
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert!(!svg.contains("& "), "unescaped ampersand");
    }

    fn widths(svg: &str) -> Vec<i64> {
        regex::Regex::new(r#"<rect x="200" y="\d+" width="(\d+)""#)
            .unwrap()
            .captures_iter(svg)
            .map(|c| c[1].parse().unwrap())
            .collect()
    }

    #[test]
    fn bars_are_proportional_and_labelled() {
        let svg = bars(
            &frame(),
            &[
                ("Kundtjänst".into(), 40, "40".into()),
                ("VA".into(), 20, "20".into()),
                ("Bygg".into(), 0, "0".into()),
            ],
        );
        well_formed(&svg);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c1-t c1-d\""));
        assert!(svg.contains("<title id=\"c1-t\">Ärenden &amp; frågor</title>"));
        assert!(svg.contains("<desc id=\"c1-d\">Per kö</desc>"));
        assert!(svg.contains("width=\"100%\"") && svg.contains("viewBox="));
        for label in [">Kundtjänst<", ">VA<", ">40<", ">20<", ">0<"] {
            assert!(svg.contains(label), "{label}");
        }
        let w = widths(&svg);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], 2 * w[1]);
        assert_eq!(w[2], 0);
    }

    #[test]
    fn stacked_columns_have_patterns_a_legend_and_totals() {
        let labels = vec!["1 dec".to_string(), "2 dec".to_string()];
        let series = vec![
            ("Nya".to_string(), vec![2, 1]),
            ("Öppna".to_string(), vec![3, 0]),
        ];
        let svg = stacked(&frame(), &labels, &series);
        well_formed(&svg);
        assert!(svg.contains("<pattern id=\"c1-p0\"") && svg.contains("<pattern id=\"c1-p1\""));
        assert!(svg.contains(">Nya<") && svg.contains(">Öppna<"));
        assert!(svg.contains(">5<") && svg.contains(">1<"), "totals");
        assert!(svg.contains(">1 dec<") && svg.contains(">2 dec<"));
        let segments =
            regex::Regex::new(r#"fill="url\(#c1-p\d\)" stroke="[^"]+" stroke-width="0.5"/>"#)
                .unwrap()
                .find_iter(&svg)
                .count();
        assert_eq!(segments, 3, "three non-empty segments");
    }

    #[test]
    fn heatmap_writes_every_value() {
        let rows = vec!["mån".to_string(), "tis".to_string()];
        let cols: Vec<String> = (0..3).map(|h| h.to_string()).collect();
        let svg = heatmap(&frame(), &rows, &cols, &[vec![0, 4, 8], vec![1, 0, 2]]);
        well_formed(&svg);
        assert_eq!(svg.matches("<g class=\"cell\">").count(), 6);
        assert!(svg.contains(">mån<") && svg.contains(">8<"));
        assert_eq!(shade(8, 8).0, "#0b4f8a");
        assert_eq!(shade(0, 8).0, "#ffffff");
    }

    #[test]
    fn empty_charts_are_still_images() {
        let svg = bars(&frame(), &[]);
        well_formed(&svg);
        assert!(svg.contains("role=\"img\""));
        let svg = stacked(&frame(), &[], &[]);
        well_formed(&svg);
    }
}
