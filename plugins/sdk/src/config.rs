//! Reading a plugin's configuration: the host hands it over as a JSON object
//! built from the plugin's TOML section.

use serde::de::DeserializeOwned;

/// Deserializes a plugin's JSON config. An error names the key it is about
/// (`keep: invalid type: …`) and carries no JSON position, which would point into
/// the host's JSON rather than the operator's file; the host adds the file, the
/// line and the section, and turns serde's "unknown field … expected one of …"
/// into the operator's words. Use `#[serde(deny_unknown_fields)]` so misspelled
/// keys are refused with the list of valid ones.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) if inner.line() > 0 => message[..at].to_string(),
            _ => message,
        };
        // An unknown key's path ends with that key, which the message names.
        let path = if message.starts_with("unknown field `") {
            path.rsplit_once('.')
                .map_or("", |(parent, _)| parent)
                .to_string()
        } else {
            path
        };
        if path == "." || path.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        }
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct C {
        path: String,
        #[serde(default)]
        keep: u32,
    }

    #[test]
    fn errors_name_the_key_without_a_json_position() {
        let e = parse_config::<C>(r#"{"path":"x","keep":"five"}"#).unwrap_err();
        assert_eq!(e, "keep: invalid type: string \"five\", expected u32");
        let e = parse_config::<C>(r#"{"pth":"x"}"#).unwrap_err();
        assert_eq!(e, "unknown field `pth`, expected `path` or `keep`");
        let e = parse_config::<C>(r#"{}"#).unwrap_err();
        assert_eq!(e, "missing field `path`");
    }
}
