//! Typed reasons: a failure said in words, with a type per meaning.

/// A reason in words, given a type of its own: one per meaning (a value the playbook may not
/// hold, a measurement that could not be made, a host that cannot be reached...), so that a
/// function's signature says which failure it reports and one cannot pass for another.
macro_rules! reason {
    ($(#[$m:meta])* $v:vis struct $name:ident;) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $v struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(r: $name) -> String {
                r.0
            }
        }
    };
}
pub(crate) use reason;
