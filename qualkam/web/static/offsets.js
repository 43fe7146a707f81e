// Offsets between the API and the browser (issue 13).
//
// The API counts code points of the stored text (Python str indices); the DOM counts UTF-16
// code units (a Range offset, String.length). They differ only after a character outside the
// Basic Multilingual Plane (most emoji), which takes two code units and one code point.
// Text without a surrogate takes the fast path: the two offsets are the same number.
(function (root) {
  "use strict";

  const SURROGATE = /[\uD800-\uDFFF]/;

  function isHigh(unit) {
    return unit >= 0xd800 && unit <= 0xdbff;
  }

  function isLow(unit) {
    return unit >= 0xdc00 && unit <= 0xdfff;
  }

  // The UTF-16 offset in `text` of code point offset `cp` (clamped to the text).
  function toUtf16(text, cp) {
    if (cp <= 0) return 0;
    if (!SURROGATE.test(text)) return Math.min(cp, text.length);
    let units = 0;
    let points = 0;
    while (units < text.length && points < cp) {
      units += isHigh(text.charCodeAt(units)) && isLow(text.charCodeAt(units + 1)) ? 2 : 1;
      points += 1;
    }
    return units;
  }

  // The code point offset in `text` of UTF-16 offset `units`. An offset inside a surrogate
  // pair (a browser can report one) rounds up to just after that character.
  function toCodePoints(text, units) {
    if (units <= 0) return 0;
    if (!SURROGATE.test(text)) return Math.min(units, text.length);
    let i = 0;
    let points = 0;
    const stop = Math.min(units, text.length);
    while (i < stop) {
      i += isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
      points += 1;
    }
    return points;
  }

  // The number of code points in `text` (what Python's len() says).
  function length(text) {
    return SURROGATE.test(text) ? toCodePoints(text, text.length) : text.length;
  }

  // text[start:end] in code points, as Python slices the stored text.
  function slice(text, start, end) {
    return text.slice(toUtf16(text, start), toUtf16(text, end));
  }

  // A converter over one long text for offsets asked in increasing order (the segments of a
  // document, in reading order): each call continues from the last, so a whole document costs
  // one pass, not one per segment. Asking for an earlier offset starts again from the top.
  function walker(text) {
    const plain = !SURROGATE.test(text);
    let units = 0;
    let points = 0;
    return function utf16At(cp) {
      if (plain) return Math.max(0, Math.min(cp, text.length));
      if (cp < points) {
        units = 0;
        points = 0;
      }
      while (units < text.length && points < cp) {
        units += isHigh(text.charCodeAt(units)) && isLow(text.charCodeAt(units + 1)) ? 2 : 1;
        points += 1;
      }
      return units;
    };
  }

  // Cut a segment's text at every boundary of the spans over it. `string` is text[segStart:...]
  // as the page holds it; each span has {s, e} in code points of the whole text, already
  // clipped to the segment. Returns the pieces in order, each with the spans that cover it.
  function pieces(string, segStart, spans) {
    const segEnd = segStart + length(string);
    if (!spans.length) return [{ text: string, covering: [] }];
    const cuts = new Set([segStart, segEnd]);
    for (const span of spans) {
      cuts.add(span.s);
      cuts.add(span.e);
    }
    const bounds = Array.from(cuts).sort((a, b) => a - b);
    const at = walker(string);
    const out = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const from = bounds[i];
      const to = bounds[i + 1];
      out.push({
        text: string.slice(at(from - segStart), at(to - segStart)),
        covering: spans.filter((span) => span.s <= from && span.e >= to),
      });
    }
    return out;
  }

  const api = { toUtf16, toCodePoints, length, slice, walker, pieces };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.qualkamOffsets = api;
})(typeof window !== "undefined" ? window : globalThis);
