// How many SMS segments a text takes: GSM-7 when every character is in the GSM 03.38
// alphabet (160 characters, 153 per segment when split; the extension table's
// characters take two), else UCS-2 (70 UTF-16 units, 67 per segment when split).

const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

export function segments(text) {
  let septets = 0;
  let gsm = true;
  for (const char of text) {
    if (GSM_BASIC.includes(char)) septets += 1;
    else if (GSM_EXTENDED.includes(char)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  const [units, single, multi] = gsm ? [septets, 160, 153] : [text.length, 70, 67];
  const count = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
  const capacity = count <= 1 ? single : count * multi;
  return { encoding: gsm ? "GSM-7" : "UCS-2", segments: count, characters: units, remaining: capacity - units };
}
