/**
 * Renders a batch's template for one recipient when its message is sent (the webhook and mock
 * channels: their jobs carry the recipient's vars, not the rendered message). Each batch's
 * template is compiled once and kept as long as that batch's state object lives.
 */
import type { BatchState } from "./delivery-state.js";
import { compileTemplate, type CompiledTemplate, type TemplateVars } from "./templates.js";
import type { RenderedContent } from "./types.js";

export class BatchTemplates {
  readonly #compiled = new WeakMap<BatchState, CompiledTemplate>();

  render(batch: BatchState, vars: TemplateVars | undefined): RenderedContent {
    let template = this.#compiled.get(batch);
    if (!template) {
      template = compileTemplate(batch.record.template, `batch ${batch.id} template`);
      this.#compiled.set(batch, template);
    }
    return template.render(vars);
  }
}
