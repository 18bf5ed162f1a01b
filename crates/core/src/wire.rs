//! Enums that travel as fixed names (a connection's status, a cause, an event kind, a grant,
//! ...): [`wire_enum!`] declares one with each variant's name written once, next to the
//! variant, and derives the rest from that table.

/// Declares a fieldless enum whose variants each carry one wire name (`Variant => "name",`),
/// and gives it:
/// - `ALL`, every variant in the order declared;
/// - `as_str`, the variant's wire name (also its storage name);
/// - `Display`, which writes the wire name;
/// - `FromStr`, the inverse of `as_str`, failing with the error type `unknown:` names, made
///   from the refused name by its tuple constructor or the function given
///   (`unknown: UnknownEventName::kind`).
///
/// The enum's own attributes (derives, `serde` renames, docs) are written as usual; a serde
/// derive must spell the variants as their wire names (the round-trip tests check it).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $wire:literal,
            )+
        }
        unknown: $unknown:ident $(:: $make:ident)?
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in the order declared.
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The wire and storage name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $unknown;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $unknown$(::$make)?(s.to_owned()))
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use crate::cause::Cause;
    use crate::event::{EventKind, Outcome};
    use crate::refresh::Grant;
    use crate::status::ConnectionStatus;
    use crate::webhook::{DeliveryStatus, WebhookEventType};

    /// Asserts that each of `values` parses back from its wire name and serializes to it as a
    /// JSON string.
    fn assert_round_trips<T>(values: impl IntoIterator<Item = T>)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + std::str::FromStr
            + serde::Serialize,
    {
        for value in values {
            let name = value.to_string();
            assert_eq!(name.parse::<T>().ok(), Some(value), "parse {name:?}");
            let json = serde_json::to_string(&value).ok();
            assert_eq!(json, Some(format!("\"{name}\"")), "serialize {value:?}");
        }
    }

    /// The serde derive of each enum declared with [`wire_enum!`] spells every variant as its
    /// wire name, which also parses back.
    #[test]
    fn every_wire_enum_round_trips_through_its_wire_names() {
        assert_round_trips(Cause::ALL);
        assert_round_trips(ConnectionStatus::ALL);
        assert_round_trips(EventKind::ALL);
        assert_round_trips(Outcome::ALL);
        assert_round_trips(Grant::ALL);
        assert_round_trips(WebhookEventType::ALL);
        assert_round_trips(DeliveryStatus::ALL);
    }
}
