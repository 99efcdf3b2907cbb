// Small accessible building blocks shared by the sections.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

export function Section({ id, title, status, children }: { id: string; title: string; status?: ReactNode; children: ReactNode }) {
  return (
    <section id={id} className="card" aria-labelledby={`${id}-title`}>
      <header className="card-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {status}
      </header>
      {children}
    </section>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'muted'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A labelled text input or textarea with its error right below it. */
export function Field({
  label,
  value,
  onChange,
  error,
  hint,
  multiline,
  placeholder,
  type = 'text',
  name,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  hint?: ReactNode;
  multiline?: boolean;
  placeholder?: string;
  type?: string;
  name?: string;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea id={id} name={name} value={value} placeholder={placeholder} rows={6} aria-invalid={!!error} aria-describedby={described} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input id={id} name={name} type={type} value={value} placeholder={placeholder} aria-invalid={!!error} aria-describedby={described} onChange={(e) => onChange(e.target.value)} />
      )}
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** `what`: said to screen readers after the label ("Copy" + " TXT value for acme.com"), for
 * pages with several copy buttons. */
export function CopyButton({ text, label = 'Copy', what }: { text: string; label?: string; what?: string }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard blocked (e.g. not a secure context): select a hidden textarea instead.
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  }
  return (
    <button type="button" className="secondary" onClick={copy} aria-live="polite">
      {copied ? 'Copied' : label}
      {what && ' '}
      {what && <span className="sr-only">{what}</span>}
    </button>
  );
}

/** A value to paste into the IdP: read-only field with a copy button. */
export function CopyField({ label, value, copyWhat }: { label: string; value: string; copyWhat?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input id={id} readOnly value={value} onFocus={(e) => e.target.select()} />
        <CopyButton text={value} label={`Copy`} what={copyWhat} />
      </div>
    </div>
  );
}

/** A modal dialog (native <dialog>: focus trapped, Escape closes). */
export function Dialog({ open, title, onClose, children }: { open: boolean; title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={id} onClose={onClose} className="dialog">
      <h3 id={id}>{title}</h3>
      {open && children}
    </dialog>
  );
}

/** Set-up steps for Okta and for Entra, one shown at a time behind a pair of tabs. */
export function IdpSteps({ label, okta, entra }: { label: string; okta: { label: string; steps: ReactNode }; entra: { label: string; steps: ReactNode } }) {
  const [idp, setIdp] = useState<'okta' | 'entra'>('okta');
  const shown = idp === 'okta' ? okta : entra;
  return (
    <div className="setup">
      <div role="tablist" aria-label={label} className="tablist">
        <button type="button" role="tab" aria-selected={idp === 'okta'} onClick={() => setIdp('okta')}>
          Okta
        </button>
        <button type="button" role="tab" aria-selected={idp === 'entra'} onClick={() => setIdp('entra')}>
          Microsoft Entra ID
        </button>
      </div>
      <ol role="tabpanel" aria-label={shown.label}>
        {shown.steps}
      </ol>
    </div>
  );
}
