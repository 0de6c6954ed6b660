//! Check digits that tell a real identifier from a number that merely looks like one.

/// Luhn (credit cards, and NPIs with their `80840` prefix).
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (index, c) in digits.chars().rev().enumerate() {
        let Some(mut digit) = c.to_digit(10) else {
            return false;
        };
        if index % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// A National Provider Identifier: ten digits, Luhn-valid behind the `80840` prefix.
pub fn npi(digits: &str) -> bool {
    digits.len() == 10
        && digits.chars().all(|c| c.is_ascii_digit())
        && luhn(&format!("80840{digits}"))
}

/// A DEA registration number: two letters and seven digits whose last is a check digit.
pub fn dea(candidate: &str) -> bool {
    let bytes = candidate.as_bytes();
    if bytes.len() != 9
        || !bytes[..2].iter().all(u8::is_ascii_alphabetic)
        || !bytes[2..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let d: Vec<u32> = bytes[2..].iter().map(|b| u32::from(b - b'0')).collect();
    let check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10;
    check == d[6]
}

/// A US Social Security number that the SSA could have issued: not area 000, 666 or
/// 9xx, not group 00, not serial 0000, and not one of the numbers known from ads.
pub fn ssn(area: &str, group: &str, serial: &str) -> bool {
    const DUMMIES: [&str; 3] = ["078051120", "219099999", "123456789"];
    let (Ok(a), Ok(g), Ok(s)) = (
        area.parse::<u32>(),
        group.parse::<u32>(),
        serial.parse::<u32>(),
    ) else {
        return false;
    };
    a != 0
        && a != 666
        && a < 900
        && g != 0
        && s != 0
        && !DUMMIES.contains(&format!("{area}{group}{serial}").as_str())
}

/// A vehicle identification number's check digit (position 9).
pub fn vin(candidate: &str) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    fn value(c: char) -> Option<u32> {
        Some(match c {
            '0'..='9' => c.to_digit(10)?,
            'A' | 'J' => 1,
            'B' | 'K' | 'S' => 2,
            'C' | 'L' | 'T' => 3,
            'D' | 'M' | 'U' => 4,
            'E' | 'N' | 'V' => 5,
            'F' | 'W' => 6,
            'G' | 'P' | 'X' => 7,
            'H' | 'Y' => 8,
            'R' | 'Z' => 9,
            _ => return None,
        })
    }
    let upper = candidate.to_ascii_uppercase();
    if upper.len() != 17
        || !upper.chars().any(|c| c.is_ascii_digit())
        || !upper.chars().any(|c| c.is_ascii_alphabetic())
    {
        return false;
    }
    let mut sum = 0;
    for (index, c) in upper.chars().enumerate() {
        let Some(v) = value(c) else { return false };
        sum += v * WEIGHTS[index];
    }
    let check = match sum % 11 {
        10 => 'X',
        digit => char::from_digit(digit, 10).unwrap_or('?'),
    };
    upper.chars().nth(8) == Some(check)
}

/// A code in the shape of a CPT or HCPCS Level II procedure code: a CPT Category I code
/// (00100–99499), a Category II, III or lab-analysis code (four digits and `F`, `T` or
/// `U`), or a HCPCS code (a letter of a section in use, then four digits). The codes
/// themselves are the AMA's and CMS's to license, so the structure is what is checked.
pub fn procedure_code(candidate: &str) -> bool {
    const HCPCS_SECTIONS: &[u8] = b"ABCDEGHJKLMPQRSTUV";
    let code = candidate.to_ascii_uppercase();
    let bytes = code.as_bytes();
    if bytes.len() != 5 || !bytes[1..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    match (bytes[0], bytes[4]) {
        (first, last) if first.is_ascii_digit() && last.is_ascii_digit() => code
            .parse::<u32>()
            .is_ok_and(|n| (100..=99499).contains(&n)),
        (first, b'F' | b'T' | b'U') => first.is_ascii_digit(),
        (section, last) => HCPCS_SECTIONS.contains(&section) && last.is_ascii_digit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_real_numbers_and_rejects_one_digit_off() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert!(luhn("79927398713"));
    }

    #[test]
    fn npi_uses_the_80840_prefix() {
        assert!(npi("1234567893"), "the CMS example NPI");
        assert!(!npi("1234567894"));
    }

    #[test]
    fn dea_check_digit() {
        assert!(dea("AB1234563"));
        assert!(!dea("AB1234564"));
        assert!(!dea("A11234563"));
    }

    #[test]
    fn ssn_invalid_ranges_and_dummies() {
        assert!(ssn("123", "45", "6788"));
        for (a, g, s) in [
            ("000", "12", "3456"),
            ("666", "12", "3456"),
            ("912", "12", "3456"),
            ("123", "00", "3456"),
            ("123", "45", "0000"),
            ("078", "05", "1120"),
        ] {
            assert!(!ssn(a, g, s), "{a}-{g}-{s}");
        }
    }

    #[test]
    fn procedure_codes_follow_the_cpt_and_hcpcs_structure() {
        for code in [
            "99213", "00100", "0001F", "0042T", "0001U", "J1100", "g0008",
        ] {
            assert!(procedure_code(code), "{code}");
        }
        for code in [
            "00099", "99500", "1234X", "N1234", "I1234", "J11000", "F1234",
        ] {
            assert!(!procedure_code(code), "{code}");
        }
    }

    #[test]
    fn vin_check_digit() {
        assert!(vin("1M8GDM9AXKP042788"));
        assert!(!vin("1M8GDM9A1KP042788"));
    }
}
