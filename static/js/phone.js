// Phone numbers as operators type them: formatted as they go and read into E.164, by
// libphonenumber-js (its one-file bundle, served under /vendor/; loaded as a module it
// sets `globalThis.libphonenumber`). The server checks the number again.
import "libphonenumber";

const { AsYouType, parsePhoneNumberFromString } = globalThis.libphonenumber;

/// Numbers written without a country code are read as this country's (the server's
/// default region is the same unless its deployment changed it).
export const DEFAULT_COUNTRY = "US";

/// `{ display, e164, valid }` for what the operator typed so far: `display` is the text
/// formatted as the number's country writes it, `e164` the number when it is complete
/// and valid (else null).
export function readPhone(text, country = DEFAULT_COUNTRY) {
  const trimmed = text.trim();
  if (!trimmed) return { display: "", e164: null, valid: false };
  const display = /[a-z]/i.test(trimmed) ? trimmed : new AsYouType(country).input(trimmed);
  const number = parsePhoneNumberFromString(trimmed, country);
  const valid = Boolean(number?.isValid());
  return { display, e164: valid ? number.number : null, valid };
}

/// An E.164 number as people of its country write it.
export function showPhone(e164, country = DEFAULT_COUNTRY) {
  const number = parsePhoneNumberFromString(e164 ?? "");
  if (!number) return e164 ?? "";
  return number.country === country ? number.formatNational() : number.formatInternational();
}
