// Writing: a new post, a reply, a quote, or a new text for one of the viewer's own posts.

import { publish } from './api.js';
import { h, short, busy, words } from './ui.js';

let counter = 0;

const titles = {
  post: ['New post', 'Post'],
  reply: ['Your reply', 'Reply'],
  quote: ['Your comment on the quoted post', 'Quote'],
  edit: ['New text', 'Save edit'],
};

/**
 * A compose form. `mode` is post, reply, quote or edit; `target` the item replied to, quoted
 * or edited; `onDone(published)` runs after publishing.
 */
export function composer({ mode = 'post', target = null, onDone }) {
  const n = ++counter;
  const [label, action] = titles[mode];
  const text = h('textarea', { id: `text-${n}`, name: 'text', required: true, maxlength: 5000 });
  if (mode === 'edit') text.value = target.text ?? '';
  const tags = h('input', { id: `tags-${n}`, type: 'text', name: 'tags', placeholder: 'news, rust' });
  const warning = h('input', { id: `cw-${n}`, type: 'text', name: 'warning', placeholder: 'spoiler' });
  const submit = h('button', { class: 'primary', type: 'submit' }, action);
  const extra = mode === 'edit' ? [] : [
    h('details', {},
      h('summary', {}, 'Tags and content warning'),
      h('div', { class: 'stack' },
        h('label', { for: tags.id }, 'Tags (without #, separated by commas)'), tags,
        h('label', { for: warning.id }, 'Content warning (readers see it before the text)'), warning)),
  ];
  const form = h('form', { class: 'compose stack', 'aria-label': label },
    target && mode !== 'edit'
      ? h('p', { class: 'context' }, mode === 'reply' ? 'Replying to ' : 'Quoting ',
        target.author_name ?? short(target.author), ' · ', short(target.id))
      : null,
    h('label', { for: text.id }, label),
    text,
    extra,
    h('div', { class: 'row' },
      submit,
      h('span', { class: 'hint' }, mode === 'edit' ? 'Readers see the new text, marked edited; the history stays.'
        : '#tag becomes a tag; @name mentions someone your node knows by that name (or by id). Ctrl+Enter posts.')));
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  // Problems with what was written show under the box, where the writer is looking.
  const problem = h('p', { class: 'inline-error', role: 'alert', hidden: true });
  text.after(problem);
  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };
  text.addEventListener('input', () => say(''));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) {
      say('Write something first: the text is empty.');
      text.focus();
      return;
    }
    say('');
    busy(submit, `${action} failed`, async () => {
      const request = mode === 'edit'
        ? { kind: 'edit', target: target.id, text: text.value }
        : {
          kind: 'post',
          text: text.value,
          reply_to: mode === 'reply' ? target.id : null,
          quote: mode === 'quote' ? target.id : null,
          tags: words(tags.value),
          self_labels: words(warning.value),
        };
      let published;
      try {
        published = await publish(request);
      } catch (err) {
        if (err.status !== 400) throw err;
        say(err.message);
        text.focus();
        return;
      }
      form.reset();
      onDone?.(published);
    });
  });
  return form;
}
