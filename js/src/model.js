// @ts-check
/**
 * The part of anywidget's front-end model the views use (and nothing JupyterLab-specific, so the views run in
 * JupyterLab, Notebook 7, VS Code, Colab and the static HTML page alike).
 * @typedef {{
 *   get(name: string): any,
 *   set(name: string, value: any): void,
 *   on(name: string, fn: (...args: any[]) => void): void,
 *   off(name?: string | null, fn?: ((...args: any[]) => void) | null): void,
 *   save_changes(): void,
 *   send(content: any, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]): void,
 * }} Model
 * @typedef {{model: Model, el: HTMLElement}} RenderArgs
 */

/**
 * Set traits and send them to the kernel in one message.
 * @param {Model} model
 * @param {Record<string, any>} values
 */
export function update(model, values) {
  for (const [k, v] of Object.entries(values)) model.set(k, v);
  model.save_changes();
}

/**
 * True in the static HTML export, where no kernel answers (controls that need one are disabled there).
 * @param {Model} model
 */
export function isStatic(model) {
  return Boolean(model.get("_static"));
}

/**
 * A copy of a B x H boolean mask.
 * @param {boolean[][]} heads
 */
export function copyHeads(heads) {
  return (heads ?? []).map((row) => row.slice());
}

/**
 * Send a PNG to the kernel (the view's `last_png`) as a binary buffer.
 * @param {Model} model
 * @param {Blob} blob
 * @param {string} name
 */
export async function sendPng(model, blob, name) {
  try {
    const bytes = await blob.arrayBuffer();
    model.send({ event: "png", name }, undefined, [bytes]);
  } catch (err) {
    console.warn("attnviz: could not send the PNG to the kernel", err);
  }
}
