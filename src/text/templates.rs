//! Handlebars templates and locale texts, compiled into the binary from templates/.
//! Strict mode: a template that names a missing value fails loudly in tests instead of rendering
//! an empty string. `{{t "key"}}` looks a text up in templates/locales/<locale>.json (Swedish
//! default, English second); `{{t "key" name=value}}` fills `{name}` placeholders.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "templates/"]
#[include = "*.hbs"]
#[include = "locales/*.json"]
#[include = "locales/*/*.json"]
pub struct TemplateFiles;

pub const DEFAULT_LOCALE: &str = "sv";
pub const LOCALES: [&str; 2] = ["sv", "en"];

type Texts = HashMap<String, HashMap<String, String>>;

pub struct Templates {
    hb: Handlebars<'static>,
    /// The same templates without HTML escaping, for plain-text mail (templates/mail/).
    hb_text: Handlebars<'static>,
    texts: Arc<Texts>,
}

/// Texts per locale: `locales/<locale>.json` plus every `locales/<locale>/*.json` (one file per
/// area of the product, e.g. `locales/sv/admin.json`), merged. A key defined twice is a bug.
fn load_texts() -> Texts {
    let mut all = Texts::new();
    for loc in LOCALES {
        let mut files: Vec<String> = TemplateFiles::iter()
            .filter(|f| {
                f.as_ref() == format!("locales/{loc}.json")
                    || (f.starts_with(&format!("locales/{loc}/")) && f.ends_with(".json"))
            })
            .map(|f| f.to_string())
            .collect();
        assert!(!files.is_empty(), "templates/locales/{loc}.json is missing");
        files.sort();
        let mut merged: HashMap<String, String> = HashMap::new();
        for name in files {
            let file = TemplateFiles::get(&name).expect("listed file exists");
            let flat: HashMap<String, String> = serde_json::from_slice(&file.data)
                .unwrap_or_else(|e| panic!("{name} is not a flat JSON object: {e}"));
            for (k, v) in flat {
                if merged.insert(k.clone(), v).is_some() {
                    panic!("text key {k} is defined twice for locale {loc} ({name})");
                }
            }
        }
        all.insert(loc.to_string(), merged);
    }
    all
}

impl Templates {
    fn build() -> Templates {
        let texts = Arc::new(load_texts());
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_embed_templates_with_extension::<TemplateFiles>(".hbs")
            .expect("templates compile");
        let t = texts.clone();
        hb.register_helper(
            "t",
            Box::new(
                move |h: &Helper,
                      _: &Handlebars,
                      ctx: &Context,
                      _: &mut RenderContext,
                      out: &mut dyn Output|
                      -> HelperResult {
                    let key = h
                        .param(0)
                        .and_then(|p| p.value().as_str())
                        .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
                    let locale = ctx
                        .data()
                        .get("locale")
                        .and_then(|v| v.as_str())
                        .unwrap_or(DEFAULT_LOCALE);
                    let n = h.hash_get("n").and_then(|v| v.value().as_i64());
                    let mut s = plural(&t, locale, key, n).to_string();
                    for (name, v) in h.hash() {
                        let val = match v.value() {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        s = s.replace(&format!("{{{name}}}"), &val);
                    }
                    out.write(&handlebars::html_escape(&s))?;
                    Ok(())
                },
            ),
        );
        let t = texts.clone();
        hb.register_helper(
            "duration",
            Box::new(
                move |h: &Helper,
                      _: &Handlebars,
                      ctx: &Context,
                      _: &mut RenderContext,
                      out: &mut dyn Output|
                      -> HelperResult {
                    let num = |i| h.param(i).and_then(|p| p.value().as_i64()).unwrap_or(0);
                    let locale = ctx
                        .data()
                        .get("locale")
                        .and_then(|v| v.as_str())
                        .unwrap_or(DEFAULT_LOCALE);
                    out.write(&handlebars::html_escape(&duration_in(
                        &t,
                        locale,
                        num(0),
                        num(1),
                    )))?;
                    Ok(())
                },
            ),
        );
        handlebars::handlebars_helper!(concat: |a: str, b: str| format!("{a}{b}"));
        hb.register_helper("concat", Box::new(concat));
        let mut hb_text = Handlebars::new();
        hb_text.set_strict_mode(true);
        hb_text.register_escape_fn(handlebars::no_escape);
        hb_text
            .register_embed_templates_with_extension::<TemplateFiles>(".hbs")
            .expect("templates compile");
        Templates { hb, hb_text, texts }
    }

    /// The shared registry (templates are part of the binary, so one per process).
    pub fn get() -> &'static Templates {
        static T: OnceLock<Templates> = OnceLock::new();
        T.get_or_init(Templates::build)
    }

    pub fn render<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        self.hb.render(name, data)
    }

    /// Check that a template given as text compiles (before an operator's template is stored).
    pub fn check_str(&self, template: &str) -> Result<(), handlebars::TemplateError> {
        handlebars::Template::compile(template).map(|_| ())
    }

    /// Render a plain-text template (mail bodies): no HTML escaping.
    pub fn render_text<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        self.hb_text.render(name, data)
    }

    /// Render a template given as text (e.g. a queue's own acknowledgement template). Not strict:
    /// an operator's template may leave out values.
    pub fn render_str<T: Serialize>(
        &self,
        template: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        hb.render_template(template, data)
    }

    /// A duration as people read it (`{{duration h m}}` in templates): no zero units.
    pub fn duration(&self, locale: &str, hours: i64, minutes: i64) -> String {
        duration_in(&self.texts, locale, hours, minutes)
    }

    /// A count-dependent text (`key.one` / `key.other`), with `{n}` filled in.
    pub fn text_n(&self, locale: &str, key: &str, n: i64) -> String {
        plural(&self.texts, locale, key, Some(n)).replace("{n}", &n.to_string())
    }

    /// A text from the locale files, for messages built outside templates (JSON errors).
    pub fn text(&self, locale: &str, key: &str) -> String {
        lookup(&self.texts, locale, key).to_string()
    }
}

/// A text that depends on a count `n`: `key.one` when n is 1, `key.other` otherwise, when the
/// locale files have them; else `key` itself.
fn plural<'a>(texts: &'a Texts, locale: &str, key: &'a str, n: Option<i64>) -> &'a str {
    if let Some(n) = n {
        let form = format!("{key}.{}", if n == 1 { "one" } else { "other" });
        let has = |l: &str| texts.get(l).is_some_and(|m| m.contains_key(&form));
        if has(locale) || has(DEFAULT_LOCALE) {
            let l = if has(locale) { locale } else { DEFAULT_LOCALE };
            return texts[l][&form].as_str();
        }
    }
    lookup(texts, locale, key)
}

/// "2 tim 5 min", "3 tim", "1 min": hours and minutes without the zero units (`0 min` only when
/// both are zero).
fn duration_in(texts: &Texts, locale: &str, hours: i64, minutes: i64) -> String {
    let h = lookup(texts, locale, "duration.hours").replace("{n}", &hours.to_string());
    let m = lookup(texts, locale, "duration.minutes").replace("{n}", &minutes.to_string());
    match (hours, minutes) {
        (0, _) => m,
        (_, 0) => h,
        _ => format!("{h} {m}"),
    }
}

fn lookup<'a>(texts: &'a Texts, locale: &str, key: &'a str) -> &'a str {
    texts
        .get(locale)
        .and_then(|m| m.get(key))
        .or_else(|| texts.get(DEFAULT_LOCALE).and_then(|m| m.get(key)))
        .map(String::as_str)
        .unwrap_or(key)
}

/// Pick `sv` or `en` from an Accept-Language header (Swedish unless English is preferred).
pub fn locale_from_accept_language(header: Option<&str>) -> &'static str {
    let Some(h) = header else {
        return DEFAULT_LOCALE;
    };
    for part in h.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.starts_with("sv") {
            return "sv";
        }
        if tag.starts_with("en") {
            return "en";
        }
    }
    DEFAULT_LOCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_exists_in_every_locale() {
        let texts = load_texts();
        let sv = &texts["sv"];
        let en = &texts["en"];
        for k in sv.keys() {
            assert!(en.contains_key(k), "en lacks {k}");
        }
        for k in en.keys() {
            assert!(sv.contains_key(k), "sv lacks {k}");
        }
    }

    #[test]
    fn all_templates_compile() {
        let _ = Templates::get();
    }

    #[test]
    fn accept_language() {
        assert_eq!(locale_from_accept_language(None), "sv");
        assert_eq!(locale_from_accept_language(Some("en-GB,en;q=0.9")), "en");
        assert_eq!(locale_from_accept_language(Some("sv-SE,en;q=0.5")), "sv");
        assert_eq!(locale_from_accept_language(Some("de")), "sv");
    }
}
