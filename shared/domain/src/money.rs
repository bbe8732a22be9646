//! Money: integer minor units plus an ISO 4217 currency with its exponent.
//!
//! Wire formats are decimal strings ("107.99"); conversion is exact, with no floats anywhere.
//! A string with more fraction digits than the currency's exponent is an error, never rounded.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

macro_rules! currencies {
    ($($code:ident = $exp:expr),+ $(,)?) => {
        /// ISO 4217 currencies this integration accepts, each with its minor-unit exponent.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Currency { $($code),+ }

        impl Currency {
            /// Every supported currency.
            pub const ALL: &'static [Currency] = &[$(Currency::$code),+];

            /// Number of fraction digits of the minor unit (JPY 0, USD 2, KWD 3).
            pub const fn exponent(self) -> u32 {
                match self { $(Currency::$code => $exp),+ }
            }

            /// The three-letter ISO 4217 code.
            pub const fn code(self) -> &'static str {
                match self { $(Currency::$code => stringify!($code)),+ }
            }
        }

        impl FromStr for Currency {
            type Err = MoneyError;
            fn from_str(s: &str) -> Result<Self, MoneyError> {
                match s {
                    $(stringify!($code) => Ok(Currency::$code),)+
                    other => Err(MoneyError::UnknownCurrency(other.chars().take(8).collect())),
                }
            }
        }
    };
}

currencies! {
    USD = 2, EUR = 2, GBP = 2, CAD = 2, AUD = 2, NZD = 2, CHF = 2, SEK = 2, NOK = 2, DKK = 2,
    PLN = 2, CZK = 2, MXN = 2, BRL = 2, INR = 2, CNY = 2, HKD = 2, SGD = 2, ZAR = 2, AED = 2,
    JPY = 0, KRW = 0, CLP = 0, ISK = 0, VND = 0,
    KWD = 3, BHD = 3, OMR = 3, JOD = 3, TND = 3,
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Errors from parsing or arithmetic on [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown or unsupported currency code {0:?}")]
    UnknownCurrency(String),
    #[error("amount {value:?} is not a decimal number (expected digits with an optional '.' and fraction)")]
    Malformed { value: String },
    #[error("amount {value:?} has {digits} fraction digits but {currency} allows at most {max}")]
    TooManyFractionDigits {
        value: String,
        digits: usize,
        currency: Currency,
        max: u32,
    },
    #[error("amount {value:?} is out of range")]
    Overflow { value: String },
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("arithmetic overflow")]
    ArithmeticOverflow,
}

/// An exact amount of money: integer minor units of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount from minor units (cents for USD, yen for JPY, fils for KWD).
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    pub const fn minor(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// Parse a decimal string ("107.99", "1500", "-0.5", "12.345") exactly.
    pub fn parse(value: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed {
            value: value.chars().take(40).collect(),
        };
        let (negative, body) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let frac = match frac_part {
            None => "",
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed())
            }
            Some(f) => f,
        };
        let exp = currency.exponent();
        if frac.len() > exp as usize {
            return Err(MoneyError::TooManyFractionDigits {
                value: value.chars().take(40).collect(),
                digits: frac.len(),
                currency,
                max: exp,
            });
        }
        let overflow = || MoneyError::Overflow {
            value: value.chars().take(40).collect(),
        };
        let mut minor: i64 = 0;
        for b in int_part.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        for i in 0..exp as usize {
            let digit = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or_else(overflow)?;
        }
        if negative {
            minor = -minor;
        }
        Ok(Money { minor, currency })
    }

    /// Parse with a currency code ("USD").
    pub fn parse_with_code(value: &str, currency: &str) -> Result<Self, MoneyError> {
        Money::parse(value, currency.parse()?)
    }

    /// The exact decimal string, with exactly `exponent` fraction digits ("107.99", "1500", "12.345").
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent();
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::ArithmeticOverflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::ArithmeticOverflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Multiply by a quantity (a line's unit price × quantity).
    pub fn checked_mul(&self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::ArithmeticOverflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Compare two amounts of the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.minor.cmp(&other.minor))
    }

    /// Sum amounts of one currency; an empty iterator sums to zero of `currency`.
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// Serialised as `{"amount": "107.99", "currency": "USD"}`: exact and readable.
#[derive(Serialize, Deserialize)]
struct MoneyWire {
    amount: String,
    currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyWire {
            amount: self.to_decimal_string(),
            currency: self.currency,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = MoneyWire::deserialize(d)?;
        Money::parse(&w.amount, w.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exponents_of_the_required_currencies() {
        for (code, exp) in [
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("CAD", 2),
            ("AUD", 2),
            ("JPY", 0),
            ("KWD", 3),
            ("BHD", 3),
        ] {
            let c: Currency = code.parse().unwrap();
            assert_eq!(c.exponent(), exp, "{code}");
            assert_eq!(c.code(), code);
        }
        assert!("XXX".parse::<Currency>().is_err());
        assert!("usd".parse::<Currency>().is_err());
    }

    #[test]
    fn parses_exactly() {
        let usd = |s| Money::parse(s, Currency::USD).map(|m| m.minor());
        assert_eq!(usd("107.99"), Ok(10799));
        assert_eq!(usd("107.9"), Ok(10790));
        assert_eq!(usd("107"), Ok(10700));
        assert_eq!(usd("0.01"), Ok(1));
        assert_eq!(usd("-0.50"), Ok(-50));
        assert_eq!(Money::parse("1500", Currency::JPY).unwrap().minor(), 1500);
        assert_eq!(
            Money::parse("12.345", Currency::KWD).unwrap().minor(),
            12345
        );
        assert_eq!(Money::parse("0.001", Currency::BHD).unwrap().minor(), 1);
    }

    #[test]
    fn rejects_too_many_fraction_digits_and_junk() {
        assert!(matches!(
            Money::parse("107.999", Currency::USD),
            Err(MoneyError::TooManyFractionDigits {
                digits: 3,
                max: 2,
                ..
            })
        ));
        assert!(matches!(
            Money::parse("1500.5", Currency::JPY),
            Err(MoneyError::TooManyFractionDigits { .. })
        ));
        assert!(matches!(
            Money::parse("1.2345", Currency::KWD),
            Err(MoneyError::TooManyFractionDigits { .. })
        ));
        for bad in [
            "", ".5", "5.", "1,000.00", "1e3", " 1", "+1", "--1", "1.-2", "abc", "1.2.3",
        ] {
            assert!(
                matches!(
                    Money::parse(bad, Currency::USD),
                    Err(MoneyError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Money::parse("99999999999999999999", Currency::USD),
            Err(MoneyError::Overflow { .. })
        ));
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(
            Money::from_minor(10799, Currency::USD).to_decimal_string(),
            "107.99"
        );
        assert_eq!(
            Money::from_minor(5, Currency::USD).to_decimal_string(),
            "0.05"
        );
        assert_eq!(
            Money::from_minor(-5, Currency::EUR).to_decimal_string(),
            "-0.05"
        );
        assert_eq!(
            Money::from_minor(1500, Currency::JPY).to_decimal_string(),
            "1500"
        );
        assert_eq!(
            Money::from_minor(12345, Currency::KWD).to_decimal_string(),
            "12.345"
        );
        assert_eq!(
            Money::from_minor(7, Currency::BHD).to_decimal_string(),
            "0.007"
        );
        assert_eq!(
            Money::from_minor(10799, Currency::USD).to_string(),
            "107.99 USD"
        );
    }

    #[test]
    fn checked_arithmetic() {
        let a = Money::from_minor(100, Currency::USD);
        let b = Money::from_minor(250, Currency::USD);
        assert_eq!(a.checked_add(&b).unwrap().minor(), 350);
        assert_eq!(a.checked_sub(&b).unwrap().minor(), -150);
        assert_eq!(b.checked_mul(3).unwrap().minor(), 750);
        assert_eq!(a.checked_cmp(&b), Ok(Ordering::Less));
        let y = Money::from_minor(100, Currency::JPY);
        assert!(matches!(
            a.checked_add(&y),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            a.checked_cmp(&y),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        let max = Money::from_minor(i64::MAX, Currency::USD);
        assert_eq!(max.checked_add(&a), Err(MoneyError::ArithmeticOverflow));
        assert_eq!(max.checked_mul(2), Err(MoneyError::ArithmeticOverflow));
        assert_eq!(Money::sum(Currency::USD, [&a, &b]).unwrap().minor(), 350);
        assert_eq!(
            Money::sum(Currency::USD, []).unwrap(),
            Money::zero(Currency::USD)
        );
    }

    #[test]
    fn serde_is_decimal_string_and_validated() {
        let m = Money::from_minor(12345, Currency::KWD);
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, r#"{"amount":"12.345","currency":"KWD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&j).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.001","currency":"USD"}"#).is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in any::<i64>().prop_filter("abs", |m| *m != i64::MIN), idx in 0..Currency::ALL.len()) {
            let c = Currency::ALL[idx];
            let m = Money::from_minor(minor, c);
            prop_assert_eq!(Money::parse(&m.to_decimal_string(), c), Ok(m));
        }
    }
}
