//! `${VAR}` in numbers and booleans: a deserializer wrapper that, where a number or a boolean
//! is expected and the file has a string holding `${…}`, expands it and reads the result.
//!
//! Strings expand in [`super::values::Text`]; this adds `ocpus: ${A1_OCPUS}` and
//! `sim: ${USE_SIM:-false}`, as in docker compose. The wrapper passes everything else
//! through untouched, reaching into maps, sequences, options and enums so that nested
//! fields are covered too.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::env::expand_current;

/// A deserializer whose numbers and booleans may be written as `${VAR}`.
pub(crate) struct Expand<D>(pub D);

/// Which primitive the caller asked for.
#[derive(Clone, Copy)]
enum Want {
    Bool,
    Signed,
    Unsigned,
    Float,
}

/// Sees what the file holds for a number or boolean; a `${…}` string is expanded and parsed.
struct Primitive<V> {
    inner: V,
    want: Want,
}

impl<'de, V: Visitor<'de>> Primitive<V> {
    fn expanded<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        if !s.contains("${") {
            return self.inner.visit_str(s);
        }
        let text = expand_current(s).map_err(E::custom)?;
        let t = text.trim();
        let bad = |what: &str| {
            // A short value helps (`two`); a long one may be a secret put in the wrong place.
            let is = if t.chars().count() <= 16 && !t.contains("://") {
                format!("is `{t}`")
            } else {
                "holds something else".to_string()
            };
            E::custom(format!(
                "`{s}` {is}, not {what} (a `${{VAR}}` here must hold {what})"
            ))
        };
        match self.want {
            Want::Bool => match t {
                "true" => self.inner.visit_bool(true),
                "false" => self.inner.visit_bool(false),
                _ => Err(bad("`true` or `false`")),
            },
            Want::Signed => t
                .parse::<i64>()
                .map_err(|_| bad("a whole number"))
                .and_then(|n| self.inner.visit_i64(n)),
            Want::Unsigned => t
                .parse::<u64>()
                .map_err(|_| bad("a whole number"))
                .and_then(|n| self.inner.visit_u64(n)),
            Want::Float => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| bad("a number"))
                .and_then(|n| self.inner.visit_f64(n)),
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Primitive<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        self.expanded(s)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.inner.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.inner.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.inner.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.inner.visit_f64(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(a)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(a)
    }
}

macro_rules! primitive {
    ($($method:ident => $want:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_any(Primitive { inner: v, want: Want::$want })
        })*
    };
}

macro_rules! forward {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap(v))
        })*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Expand<D> {
    type Error = D::Error;
    primitive!(deserialize_bool => Bool, deserialize_i8 => Signed, deserialize_i16 => Signed,
        deserialize_i32 => Signed, deserialize_i64 => Signed, deserialize_u8 => Unsigned,
        deserialize_u16 => Unsigned, deserialize_u32 => Unsigned, deserialize_u64 => Unsigned,
        deserialize_f32 => Float, deserialize_f64 => Float);
    forward!(
        deserialize_any,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(v))
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(v))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, n: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(n, Wrap(v))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        n: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, n, Wrap(v))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Wrap(v))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(v))
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor, seed or access whose nested deserializers are wrapped in [`Expand`].
struct Wrap<T>(T);

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.0.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.0.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.0.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.0.visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.0.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.0.visit_string(v)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        self.0.visit_bytes(v)
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.0.visit_some(Expand(d))
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.0.visit_newtype_struct(Expand(d))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Wrap(a))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Wrap(a))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Wrap(a))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<S> {
    type Value = S::Value;
    fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<S::Value, D2::Error> {
        self.0.deserialize(Expand(d))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Wrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Wrap(seed))
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Wrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<A> {
    type Error = A::Error;
    type Variant = Wrap<A::Variant>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Wrap<A::Variant>), A::Error> {
        self.0.variant_seed(Wrap(seed)).map(|(v, a)| (v, Wrap(a)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Wrap(seed))
    }
    fn tuple_variant<V: Visitor<'de>>(self, n: usize, v: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(n, Wrap(v))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::config::env::{Env, with_env};

    #[derive(Deserialize, Debug, PartialEq)]
    struct File {
        ocpus: f32,
        replicas: u32,
        sim: bool,
        nested: Option<Vec<Inner>>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        n: i32,
    }

    fn load(text: &str) -> Result<File, String> {
        let env = Env::from_map(BTreeMap::from([
            ("A".to_string(), "4".to_string()),
            ("B".to_string(), "true".to_string()),
            ("X".to_string(), "four".to_string()),
        ]));
        with_env(&env, || {
            File::deserialize(Expand(serde_yaml::Deserializer::from_str(text)))
                .map_err(|e| e.to_string())
        })
    }

    #[test]
    fn numbers_and_booleans_expand() {
        assert_eq!(
            load("ocpus: ${A}\nreplicas: \"${A}\"\nsim: ${B}\nnested: [{n: '${NOPE:--3}'}]\n"),
            Ok(File {
                ocpus: 4.0,
                replicas: 4,
                sim: true,
                nested: Some(vec![Inner { n: -3 }]),
            })
        );
        let err = load("ocpus: ${X}\nreplicas: 1\nsim: false\nnested: null\n").unwrap_err();
        assert!(
            err.starts_with("ocpus: `${X}` is `four`, not a number"),
            "{err}"
        );
        // A plain string where a number belongs keeps serde's own message.
        let err = load("ocpus: lots\nreplicas: 1\nsim: false\n").unwrap_err();
        assert!(err.contains("invalid type: string \"lots\""), "{err}");
    }
}
