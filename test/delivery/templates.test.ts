import { describe, expect, it } from "vitest";
import { compileTemplate } from "../../src/delivery/templates.js";

describe("compileTemplate", () => {
  it("lists required variables from the parsed tokens, in first-use order, sections optional", () => {
    const t = compileTemplate({ subject: "{{greeting}} {{user.name}}", body: "{{greeting}}, {{{raw}}} {{& amp}} {{#vip}}{{level}}{{/vip}}{{^vip}}-{{/vip}}{{! note }}" });
    expect(t.variables).toEqual(["greeting", "raw", "amp", "user.name"]);
    expect(t.missing({ greeting: "hi", raw: 1, amp: 2, user: { name: "A" } })).toBeUndefined();
    expect(t.missing({ greeting: "hi", raw: 1, amp: 2, user: {} })).toBe("user.name");
    expect(t.missing({ greeting: null, raw: 1, amp: 2, user: { name: "A" } })).toBe("greeting");
    expect(t.missing(undefined)).toBe("greeting");
    expect(compileTemplate({ body: "static" }).missing(undefined)).toBeUndefined();
  });

  it("escapes HTML by default, not with escape none, never in triple braces", () => {
    const vars = { v: `<a href="x">&'</a>` };
    expect(compileTemplate({ body: "{{v}}" }).render(vars).body).toBe("&lt;a href&#x3D;&quot;x&quot;&gt;&amp;&#39;&lt;&#x2F;a&gt;");
    expect(compileTemplate({ body: "{{v}}", escape: "none" }).render(vars).body).toBe(vars.v);
    expect(compileTemplate({ body: "{{{v}}}" }).render(vars).body).toBe(vars.v);
    expect(compileTemplate({ body: "{{v}}", subject: "S {{v}}" }).render({ v: "<" })).toEqual({ subject: "S &lt;", body: "&lt;" });
  });

  it("does not read inherited properties as variables", () => {
    const t = compileTemplate({ body: "{{constructor}}" });
    expect(t.missing({})).toBe("constructor");
  });

  it("refuses bad templates and partials with validation_failed", () => {
    expect(() => compileTemplate({ body: "{{#open}}" })).toThrow(expect.objectContaining({ code: "validation_failed" }));
    expect(() => compileTemplate({ body: "{{> footer}}" })).toThrow(expect.objectContaining({ code: "validation_failed" }));
  });
});
