// Markdown to Preact nodes, never to an HTML string: marked only tokenises, and each
// token becomes an element built here, so raw HTML in a message shows as text and a
// link is a link only when its scheme is one of SAFE_SCHEMES (no `javascript:`).
import { h } from "preact";
import { Lexer } from "marked";

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:", "tel:"]);

export function safeHref(href) {
  try {
    const url = new URL(href, "https://invalid.example/");
    return SAFE_SCHEMES.has(url.protocol) && !href.startsWith("/") ? url.href : null;
  } catch {
    return null;
  }
}

function inline(tokens = []) {
  return tokens.map((token, key) => {
    switch (token.type) {
      case "strong":
        return h("strong", { key }, inline(token.tokens));
      case "em":
        return h("em", { key }, inline(token.tokens));
      case "del":
        return h("del", { key }, inline(token.tokens));
      case "codespan":
        return h("code", { key }, token.text);
      case "br":
        return h("br", { key });
      case "link": {
        const href = safeHref(token.href);
        const content = inline(token.tokens);
        return href ? h("a", { key, href, target: "_blank", rel: "noopener noreferrer" }, content) : content;
      }
      case "image":
        return token.text || token.href;
      case "text":
        return token.tokens ? inline(token.tokens) : token.text;
      case "escape":
        return token.raw.slice(1);
      default:
        // html and anything new: the characters as written.
        return token.text ?? token.raw;
    }
  });
}

function block(tokens) {
  return tokens.map((token, key) => {
    switch (token.type) {
      case "paragraph":
        return h("p", { key }, inline(token.tokens));
      case "heading":
        return h("p", { key, class: "md-heading" }, h("strong", null, inline(token.tokens)));
      case "code":
        return h("pre", { key }, h("code", null, token.text));
      case "blockquote":
        return h("blockquote", { key }, block(token.tokens));
      case "list":
        return h(
          token.ordered ? "ol" : "ul",
          { key, start: token.ordered && token.start !== 1 ? token.start : undefined },
          token.items.map((item, index) => h("li", { key: index }, block(item.tokens))),
        );
      case "text":
        return token.tokens ? inline(token.tokens) : token.text;
      case "space":
        return null;
      case "hr":
        return h("hr", { key });
      default:
        return h("p", { key }, token.raw);
    }
  });
}

/// `text` as Preact nodes; single line breaks are kept (SMS is written that way).
export function markdown(text) {
  return block(Lexer.lex(text ?? "", { gfm: true, breaks: true }));
}
