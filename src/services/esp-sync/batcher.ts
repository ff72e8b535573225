import type { ContactSnapshot, EspAdapter, PushOutcome } from '../../esp/types.js';

interface Waiting {
  snapshot: ContactSnapshot;
  resolve: (outcome: PushOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent push jobs of one ESP into batch requests (Ometria ≤ 100 records,
 * Optimizely REST ≤ 5000 unsubscribes…). Each job still waits for its own contact's outcome,
 * so retries, dead letters and Bull Board stay per contact; a whole-request failure fails every
 * job of that request, and each retries on its own.
 */
export class PushBatcher {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly adapter: EspAdapter,
    private readonly lingerMs: number,
  ) {}

  submit(snapshot: ContactSnapshot): Promise<PushOutcome> {
    return new Promise<PushOutcome>((resolve, reject) => {
      this.waiting.push({ snapshot, resolve, reject });
      if (this.waiting.length >= this.adapter.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting.splice(0, this.adapter.maxBatch);
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    if (batch.length === 0) return;
    this.adapter.push(batch.map((w) => w.snapshot)).then(
      (outcomes) => {
        for (const w of batch) {
          const outcome = outcomes.get(w.snapshot.contactId);
          if (outcome) w.resolve(outcome);
          else w.reject(new Error(`${this.adapter.name} returned no outcome for contact ${w.snapshot.contactId}`));
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
