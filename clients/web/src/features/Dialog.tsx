/** A small modal dialog: takes the focus when it opens, closes on Escape, labelled by its title. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

let n = 0;
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  const id = useRef(`dlg-${++n}`);
  useEffect(() => {
    const first = ref.current?.querySelector<HTMLElement>("select, textarea, input, button");
    first?.focus();
  }, []);
  return (
    <div class="x-backdrop">
      <div class="x-dialog" role="dialog" aria-modal="true" aria-labelledby={id.current} ref={ref} onKeyDown={(e) => e.key === "Escape" && (e.stopPropagation(), onClose())}>
        <h3 id={id.current}>{title}</h3>
        {children}
      </div>
    </div>
  );
}
