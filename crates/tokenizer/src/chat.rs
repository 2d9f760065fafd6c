//! The checkpoint's Jinja chat template (`tokenizer.chat_template`), rendered like
//! transformers' `apply_chat_template`: jinja2 with `trim_blocks` and `lstrip_blocks`, loop
//! controls, Python string methods available, and transformers' `raise_exception`,
//! `strftime_now` and `tojson`.

use std::collections::BTreeMap;

use minijinja::{Environment, Value};

use crate::error::TokenizerError;

/// One conversation turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage { role: "user".into(), content: content.into() }
    }
    /// A system turn.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage { role: "system".into(), content: content.into() }
    }
}

/// Special-token texts the template may reference (`bos_token`, `eos_token`, ...).
#[derive(Clone, Debug, Default)]
pub struct TemplateTokens {
    /// Text of BOS (`<bos>`).
    pub bos_token: Option<String>,
    /// Text of EOS (`<eos>`).
    pub eos_token: Option<String>,
    /// Text of the unknown token.
    pub unk_token: Option<String>,
    /// Text of the padding token.
    pub pad_token: Option<String>,
    /// Text of the mask token.
    pub mask_token: Option<String>,
}

/// A compiled-on-demand chat template.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", crate::template_fns::raise_exception);
    env.add_function("strftime_now", crate::template_fns::strftime_now);
    env.add_filter("tojson", crate::template_fns::tojson);
    env
}

impl ChatTemplate {
    /// Checks that `source` compiles.
    pub fn new(source: impl Into<String>) -> Result<Self, TokenizerError> {
        let source = source.into();
        let env = environment();
        env.template_from_str(&source).map_err(|e| TokenizerError::Template(format!("{e:#}")))?;
        Ok(ChatTemplate { source })
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages`, appending the generation prompt when `add_generation_prompt`.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        tokens: &TemplateTokens,
    ) -> Result<String, TokenizerError> {
        let env = environment();
        let tmpl = env.template_from_str(&self.source).map_err(|e| TokenizerError::Template(format!("{e:#}")))?;
        let messages: Vec<BTreeMap<&str, Value>> = messages
            .iter()
            .map(|m| BTreeMap::from([("role", Value::from(m.role.as_str())), ("content", Value::from(m.content.as_str()))]))
            .collect();
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        ctx.insert("messages", Value::from(messages));
        ctx.insert("add_generation_prompt", Value::from(add_generation_prompt));
        for (name, text) in [
            ("bos_token", &tokens.bos_token),
            ("eos_token", &tokens.eos_token),
            ("unk_token", &tokens.unk_token),
            ("pad_token", &tokens.pad_token),
            ("mask_token", &tokens.mask_token),
        ] {
            if let Some(t) = text {
                ctx.insert(name, Value::from(t.as_str()));
            }
        }
        tmpl.render(Value::from(ctx)).map_err(|e| TokenizerError::Template(format!("{e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_trim_and_lstrip_blocks_and_python_methods() {
        let t = ChatTemplate::new(
            "{{ bos_token }}{% for m in messages %}\n  {% if m.role == 'user' %}U:{{ m.content.strip() }}\n{% endif %}\n{% endfor %}{% if add_generation_prompt %}A:{% endif %}",
        )
        .unwrap();
        let tokens = TemplateTokens { bos_token: Some("<bos>".into()), ..Default::default() };
        let s = t.render(&[ChatMessage::user("  hi ")], true, &tokens).unwrap();
        assert_eq!(s, "<bos>U:hi\nA:");
    }

    #[test]
    fn tojson_writes_what_python_json_dumps_writes() {
        let t = ChatTemplate::new(
            "{{ {'name': 'f', 'args': [1, 2.5, 3.0, true, none], 'q': 'a\"<b>é'} | tojson }}|{{ [1, {'a': 2}] | tojson(indent=2) }}",
        )
        .unwrap();
        let s = t.render(&[], false, &TemplateTokens::default()).unwrap();
        assert_eq!(
            s,
            "{\"name\": \"f\", \"args\": [1, 2.5, 3.0, true, null], \"q\": \"a\\\"<b>é\"}|[\n  1,\n  {\n    \"a\": 2\n  }\n]"
        );
        let t = ChatTemplate::new("{% for i in [1, 2, 3] %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}{{ strftime_now('%Y') | length }}").unwrap();
        assert_eq!(t.render(&[], false, &TemplateTokens::default()).unwrap(), "14");
    }

    #[test]
    fn raise_exception_and_syntax_errors_are_errors() {
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}").unwrap();
        let e = t.render(&[], false, &TemplateTokens::default()).unwrap_err();
        assert!(e.to_string().contains("no system role"), "{e}");
        assert!(ChatTemplate::new("{% if %}").is_err());
    }
}
