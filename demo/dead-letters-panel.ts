// The dead letters, from `dispatcher.deadLetters()`: what the collector refused for good
// (or what expired), newest first, a page at a time, each sent again or discarded, or all
// of them at once (`retryDeadLetters()`, `discardDeadLetters()`).
import type { DeadLetter, Dispatcher } from '../src/index';
import { $, clock, el, errorText, setStatus } from './dom';

const PAGE = 10;

const ui = {
  body: $<HTMLTableSectionElement>('#dead-letters'),
  more: $<HTMLButtonElement>('#dead-more'),
  retryAll: $<HTMLButtonElement>('#dead-retry-all'),
  discardAll: $<HTMLButtonElement>('#dead-discard-all'),
  status: $('#dead-status'),
};

/** The event's uuid for an Optimizely body, else its id. */
function label(letter: DeadLetter): string {
  try {
    const body = JSON.parse(letter.body) as { visitors?: { snapshots?: { events?: { uuid?: string; key?: string }[] }[] }[] };
    const event = body.visitors?.[0]?.snapshots?.[0]?.events?.[0];
    if (event?.uuid) return `${event.key ?? 'impression'} ${event.uuid}`;
  } catch {
    // Not JSON: the id says it.
  }
  return letter.id;
}

export function startDeadLettersPanel(dispatcher: Dispatcher, changed: () => void) {
  let shown: DeadLetter[] = [];
  let next: string | null = null;
  let loading: Promise<void> | undefined;

  function render(): void {
    ui.more.hidden = next === null;
    ui.retryAll.disabled = ui.discardAll.disabled = shown.length === 0;
    if (shown.length === 0) {
      ui.body.replaceChildren(el('tr', {}, Object.assign(el('td', { className: 'empty', text: 'No dead letters.' }), { colSpan: 5 })));
      return;
    }
    ui.body.replaceChildren(
      ...shown.map((letter) => {
        const tried =
          letter.firstAttemptAt === null
            ? 'never tried'
            : `${clock(letter.firstAttemptAt).slice(0, 8)}–${clock(letter.lastAttemptAt ?? letter.firstAttemptAt).slice(0, 8)}`;
        const again = el('button', { className: 'small secondary', text: 'Send again', title: `retryDeadLetters(['${letter.id}'])` });
        again.type = 'button';
        again.addEventListener('click', () => void act('retry', [letter.id]));
        const discard = el('button', { className: 'small secondary', text: 'Discard', title: `discardDeadLetters(['${letter.id}'])` });
        discard.type = 'button';
        discard.addEventListener('click', () => void act('discard', [letter.id]));
        const row = el(
          'tr',
          {},
          el('td', { text: clock(letter.deadAt).slice(0, 8) }),
          el(
            'td',
            {},
            el('span', { className: 'tag tag-dead-letter', text: letter.status ? String(letter.status) : '–' }),
            ` ${letter.reason}`,
          ),
          el('td', { text: String(letter.attempts), title: tried }),
          el('td', {
            className: 'event',
            text: label(letter)
              .replace(/^(\S+ \S{6})\S+$/, '$1…')
              .replace(/^\S+ /, ''),
            title: `${label(letter)}\n${letter.url}`,
          }),
          el('td', { className: 'dead-actions' }, again, discard),
        );
        row.dataset.id = letter.id;
        return row;
      }),
    );
  }

  /** Reads the first page again (after a change), or the next one (`more`). */
  function load(more = false): Promise<void> {
    loading ??= (async () => {
      try {
        const page = await dispatcher.deadLetters({ limit: PAGE, before: more ? (next ?? undefined) : undefined });
        shown = more ? [...shown, ...page.letters] : page.letters;
        next = page.next;
        render();
      } catch (error) {
        setStatus(ui.status, `Could not read the dead letters: ${errorText(error)}`, 'error');
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  async function act(what: 'retry' | 'discard', ids?: string[]): Promise<void> {
    const scope = ids ? `${ids.length} dead letter${ids.length === 1 ? '' : 's'}` : 'every dead letter';
    try {
      if (what === 'retry') {
        const r = await dispatcher.retryDeadLetters(ids);
        const left = [
          r.alreadyQueued.length && `${r.alreadyQueued.length} already queued`,
          r.queueFull.length && `${r.queueFull.length} left: the queue is full`,
        ].filter(Boolean);
        setStatus(
          ui.status,
          `Sent again: ${r.requeued.length} back in the queue, due now${left.length ? ` (${left.join(', ')})` : ''}.`,
          left.length ? 'warn' : 'ok',
        );
      } else {
        const r = await dispatcher.discardDeadLetters(ids);
        setStatus(ui.status, `Discarded ${r.discarded.length} for good.`, 'ok');
      }
    } catch (error) {
      setStatus(ui.status, `Could not ${what === 'retry' ? 'send again' : 'discard'} ${scope}: ${errorText(error)}`, 'error');
    }
    await load();
    changed();
  }

  ui.more.addEventListener('click', () => void load(true));
  ui.retryAll.addEventListener('click', () => void act('retry'));
  ui.discardAll.addEventListener('click', () => void act('discard'));
  // New dead letters, or another page acted on them: read the first page again.
  for (const name of ['dead-letter', 'requeued', 'discarded', 'dropped'] as const) dispatcher.on(name, () => void load());
  render();
  void load();
  return { load };
}
