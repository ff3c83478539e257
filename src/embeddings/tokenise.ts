// Letters/digits runs, optionally joined by hyphens ("t-shirt"); everything else separates.
const tokenPattern = /[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*/gu;
const digitsOnly = /^\p{N}+$/u;

const wholeToken = /^[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*$/u;

/** Whether `tokenise` can produce `word`, i.e. whether it is worth a place in the vocabulary. */
export const isVocabularyWord = (word: string): boolean =>
  wholeToken.test(word) && word === word.toLowerCase() && isContentWord(word);

/**
 * Lowercased word tokens. A hyphenated compound is kept whole when `isKnown` accepts it
 * ("t-shirt"), else split into its parts ("T-LIGHT" → "light"). Stop words, single
 * characters and bare numbers are dropped: amounts and counts live in the structured
 * profile, and as word vectors they only add noise.
 */
export function tokenise(text: string, isKnown: (word: string) => boolean): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().matchAll(tokenPattern)) {
    const token = raw[0];
    if (token.includes("-") && !isKnown(token)) {
      for (const part of token.split("-")) pushWord(out, part);
    } else pushWord(out, token);
  }
  return out;
}

const isContentWord = (word: string) => word.length >= 2 && !stopWords.has(word) && !digitsOnly.test(word);

function pushWord(out: string[], word: string): void {
  if (isContentWord(word)) out.push(word);
}

export const stopWords: ReadonlySet<string> = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being below between both but by " +
    "can could did do does doing down during each few for from further had has have having he her here hers herself him " +
    "himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other " +
    "our ours ourselves out over own same she should so some such than that the their theirs them themselves then there " +
    "these they this those through to too under until up very was we were what when where which while who whom why will " +
    "with would you your yours yourself yourselves s t d ll m re ve don isn aren wasn weren doesn didn won wouldn"
  ).split(" "),
);
