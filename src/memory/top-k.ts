/** Keeps the k best (highest score) items seen; k is small (≤ 1000), inserts are rare once warm. */
export class TopK {
  readonly items: number[] = [];
  readonly scores: number[] = [];

  constructor(private readonly k: number) {}

  get floor(): number {
    return this.items.length < this.k ? -Infinity : this.scores[this.scores.length - 1]!;
  }

  push(item: number, score: number): void {
    if (score <= this.floor) return;
    let i = this.scores.length;
    while (i > 0 && this.scores[i - 1]! < score) i--;
    this.scores.splice(i, 0, score);
    this.items.splice(i, 0, item);
    if (this.items.length > this.k) {
      this.items.pop();
      this.scores.pop();
    }
  }

  entries(): { item: number; score: number }[] {
    return this.items.map((item, i) => ({ item, score: this.scores[i]! }));
  }
}
