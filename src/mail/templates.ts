// Renders a queued mail from its templates, at sending time (a template fixed after a mail was
// queued applies to it). <template>.text.ejs: the subject on the first line, a blank line, then
// the text body; <template>.html.ejs: the HTML body, which layout.html.ejs wraps.
import fs from 'node:fs/promises';
import path from 'node:path';
import ejs from 'ejs';
import { VIEWS_DIR } from '../http/render.js';

/** The hub's own mail templates. */
export const MAIL_VIEWS_DIR = path.join(VIEWS_DIR, 'mail');
const MAX_SUBJECT_LENGTH = 200;

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** The mail cannot be rendered: trying again cannot help (it fails, it is not retried). */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export class MailTemplates {
  /**
   * `dirs`: where templates are looked up, in order (a folder of the operator's own, then the
   * hub's); a file found in an earlier one replaces the hub's of the same name.
   */
  constructor(private readonly dirs: string[], private readonly site: { product: string; issuer: string }) {}

  async render(template: string, data: Record<string, unknown>): Promise<RenderedMail> {
    // The hub's values last: a mail's data cannot pass itself off as another product or issuer.
    const locals = { ...data, ...this.site };
    // Text is not HTML: `<%= %>` writes values as they are there (a link's `&` stays `&`).
    const page = await this.renderFile(`${template}.text.ejs`, locals, (value) => String(value ?? ''));
    const [firstLine, blank, ...body] = page.split('\n');
    const subject = firstLine.replace(/\r$/, '').trim(); // a template saved with CRLF line ends
    if (blank === undefined || blank.trim() !== '') {
      throw new TemplateError(`${template}.text.ejs must start with the subject line and a blank line (a value with a line break in the subject?)`);
    }
    // A header must stay one line: CR (or any control character) from the data is refused, not sent.
    if (/\p{C}/u.test(subject) || subject === '' || subject.length > MAX_SUBJECT_LENGTH) {
      throw new TemplateError(`the subject of ${template} is empty, too long or has control characters`);
    }
    const inner = await this.renderFile(`${template}.html.ejs`, locals);
    const html = await this.renderFile('layout.html.ejs', { ...this.site, subject, body: inner });
    return { subject, text: body.join('\n'), html };
  }

  private async renderFile(name: string, locals: Record<string, unknown>, escape?: (value: unknown) => string): Promise<string> {
    const file = await this.find(name);
    try {
      return await ejs.renderFile(file, locals, { cache: process.env.NODE_ENV !== 'development', ...(escape ? { escape } : {}) });
    } catch (error) {
      // ejs names the template, line and missing variable; the data's values are not in it.
      throw new TemplateError(`${name} failed: ${(error as Error).message.split('\n').at(-1)}`);
    }
  }

  private async find(name: string): Promise<string> {
    for (const dir of this.dirs) {
      const file = path.join(dir, name);
      if (await fs.access(file).then(() => true, () => false)) return file;
    }
    throw new TemplateError(`no mail template ${name} (looked in ${this.dirs.join(', ')})`);
  }
}
