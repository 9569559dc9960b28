/**
 * Message templates: `{{var}}` placeholders rendered per recipient with Mustache.
 *
 * - Escaping: `{{var}}` is HTML-escaped by default (`escape: "html"`); `escape: "none"` renders
 *   values as they are (for plain-text or JSON channels). `{{{var}}}` / `{{& var}}` never escape.
 * - Validation: a template's *required* variables are the placeholders outside any section,
 *   listed from Mustache's parsed tokens (dotted names included: `{{user.name}}`). A recipient
 *   whose `vars` lacks one (absent or null) is refused at batch creation, so a message is never
 *   sent with a blank where a name should be. Variables inside `{{#section}}` / `{{^section}}`
 *   blocks are optional (the section decides whether they render), and partials are refused
 *   (there is nothing to resolve them against).
 */
import Mustache from "mustache";
import { ValidationError } from "../core/errors.js";
import type { RenderedContent } from "./types.js";

export type TemplateEscape = "html" | "none";

export interface TemplateSource {
  body: string;
  subject?: string;
  /** Default `html`. */
  escape?: TemplateEscape;
}

export type TemplateVars = Record<string, unknown>;

export interface CompiledTemplate {
  readonly source: Required<Pick<TemplateSource, "body" | "escape">> & Pick<TemplateSource, "subject">;
  /** Every variable the template must be given, in first-use order. */
  readonly variables: readonly string[];
  /** The first required variable `vars` lacks, or undefined when all are there. */
  missing(vars: TemplateVars | undefined): string | undefined;
  render(vars: TemplateVars | undefined): RenderedContent;
}

type Token = [type: string, value: string, start: number, end: number, children?: Token[]];

const NO_ESCAPE = (text: string): string => text;
const EMPTY: TemplateVars = Object.freeze({}) as TemplateVars;

function collectRequired(tokens: Token[], into: Set<string>, where: string): void {
  for (const token of tokens) {
    const [type, value] = token;
    if (type === "name" || type === "&") into.add(value);
    else if (type === ">") throw new ValidationError(`${where}: partials ({{> ${value}}}) are not supported`, [{ path: where, message: "partial" }]);
    // Sections and inverted sections: their own name is optional (absent = skipped), and names
    // inside may come from the section's value, so neither is required.
  }
}

function parse(text: string, where: string): Token[] {
  try {
    return Mustache.parse(text) as Token[];
  } catch (error) {
    throw new ValidationError(`${where}: not a valid template: ${(error as Error).message}`, [{ path: where, message: (error as Error).message }]);
  }
}

function lookup(vars: TemplateVars, name: string): unknown {
  if (name === ".") return vars;
  if (!name.includes(".")) return Object.hasOwn(vars, name) ? vars[name] : undefined;
  let current: unknown = vars;
  for (const part of name.split(".")) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Parses and checks a template; throws `validation_failed` naming what is wrong. */
export function compileTemplate(source: TemplateSource, where = "template"): CompiledTemplate {
  const escape = source.escape ?? "html";
  const required = new Set<string>();
  collectRequired(parse(source.body, `${where}/body`), required, `${where}/body`);
  if (source.subject !== undefined) collectRequired(parse(source.subject, `${where}/subject`), required, `${where}/subject`);
  const variables = [...required];
  const options = escape === "none" ? { escape: NO_ESCAPE } : {};
  const body = source.body;
  const subject = source.subject;
  return {
    source: subject === undefined ? { body, escape } : { body, subject, escape },
    variables,
    missing(vars) {
      const view = vars ?? EMPTY;
      for (const name of variables) {
        const value = lookup(view, name);
        if (value === undefined || value === null) return name;
      }
      return undefined;
    },
    render(vars) {
      const view = vars ?? EMPTY;
      const rendered: RenderedContent = { body: Mustache.render(body, view, {}, options) };
      if (subject !== undefined) rendered.subject = Mustache.render(subject, view, {}, options);
      return rendered;
    },
  };
}
