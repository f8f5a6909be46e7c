/**
 * The Porter stemmer exactly as NLTK runs it by default (`PorterStemmer()`, mode
 * `NLTK_EXTENSIONS`), which is the stemmer `rouge-score` uses with `use_stemmer=True`.
 * A line-by-line port of the Rust plugin's `porter.rs`, where every departure of NLTK's
 * default mode from Porter's 1980 paper is listed; the rules, their order and their
 * conditions are the same here.
 *
 * Rules within a step are tried in NLTK's order and the first rule whose suffix matches
 * decides: when its condition fails, no later rule of that step is tried.
 */

/** NLTK's table of irregular forms, as word → stem. */
const IRREGULAR_FORMS = new Map([
  ["sky", "sky"],
  ["skies", "sky"],
  ["dying", "die"],
  ["lying", "lie"],
  ["tying", "tie"],
  ["news", "news"],
  ["innings", "inning"],
  ["inning", "inning"],
  ["outings", "outing"],
  ["outing", "outing"],
  ["cannings", "canning"],
  ["canning", "canning"],
  ["howe", "howe"],
  ["proceed", "proceed"],
  ["exceed", "exceed"],
  ["succeed", "succeed"],
]);

/**
 * Stem a lowercase ASCII word (`rouge-score` only passes `[a-z0-9]+` tokens). Digits
 * count as consonants, as they do in NLTK.
 * @param {string} word
 * @returns {string}
 */
export function stem(word) {
  const irregular = IRREGULAR_FORMS.get(word);
  if (irregular !== undefined) {
    return irregular;
  }
  if (word.length <= 2) {
    return word;
  }
  let stemmed = step1a(word);
  stemmed = step1b(stemmed);
  stemmed = step1c(stemmed);
  stemmed = step2(stemmed);
  stemmed = step3(stemmed);
  stemmed = step4(stemmed);
  stemmed = step5a(stemmed);
  return step5b(stemmed);
}

/**
 * Whether the letter at `i` is a consonant in Porter's sense: not a vowel, and a `y` only
 * when it starts the word or follows a vowel. `previousConsonant` is the answer for
 * `i - 1` (ignored at 0). Plain loops over letters rather than arrays of flags: in an
 * interpreter inside a component, allocation and iterators cost most of the fuel.
 */
function consonantAfter(word, i, previousConsonant) {
  switch (word.charCodeAt(i)) {
    case 0x61: // a
    case 0x65: // e
    case 0x69: // i
    case 0x6f: // o
    case 0x75: // u
      return false;
    case 0x79: // y
      return i === 0 || !previousConsonant;
    default:
      return true;
  }
}

/** Whether the letter at `i` of `word` is a consonant. */
function isConsonant(word, i) {
  let consonant = true;
  for (let j = 0; j <= i; j++) {
    consonant = consonantAfter(word, j, consonant);
  }
  return consonant;
}

/** Porter's measure m: the number of vowel-consonant transitions in `[C](VC){m}[V]`. */
function measure(stem) {
  let m = 0;
  let previous = true;
  for (let i = 0; i < stem.length; i++) {
    const consonant = consonantAfter(stem, i, previous);
    if (i > 0 && !previous && consonant) {
      m += 1;
    }
    previous = consonant;
  }
  return m;
}

/** Condition `*v*`. */
function containsVowel(stem) {
  let consonant = true;
  for (let i = 0; i < stem.length; i++) {
    consonant = consonantAfter(stem, i, consonant);
    if (!consonant) {
      return true;
    }
  }
  return false;
}

/** Condition `*d`. */
function endsDoubleConsonant(word) {
  const n = word.length;
  return n >= 2 && word[n - 1] === word[n - 2] && isConsonant(word, n - 1);
}

/** Condition `*o`, with NLTK's extra case of a two-letter vowel-consonant word. */
function endsCvc(word) {
  const n = word.length;
  if (n >= 3) {
    const last = word[n - 1];
    return (
      isConsonant(word, n - 3) &&
      !isConsonant(word, n - 2) &&
      isConsonant(word, n - 1) &&
      last !== "w" &&
      last !== "x" &&
      last !== "y"
    );
  }
  if (n === 2) {
    return !isConsonant(word, 0) && isConsonant(word, 1);
  }
  return false;
}

/** The stem left when `word` ends with `suffix`, or `undefined` (Rust's `strip_suffix`). */
function stripSuffix(word, suffix) {
  return word.endsWith(suffix) ? word.slice(0, word.length - suffix.length) : undefined;
}

function positiveMeasure(stem) {
  return measure(stem) > 0;
}

function measureAboveOne(stem) {
  return measure(stem) > 1;
}

const always = () => true;

/**
 * A rule list of a step, `[suffix, replacement, condition]` in NLTK's order, indexed by
 * the suffixes' last letter: only the rules ending with the word's last letter can match,
 * and they keep their order, so the first match is the same as in the full list.
 */
function ruleList(rules) {
  const byLastLetter = new Map();
  for (const rule of rules) {
    const last = rule[0][rule[0].length - 1];
    if (!byLastLetter.has(last)) {
      byLastLetter.set(last, []);
    }
    byLastLetter.get(last).push(rule);
  }
  return byLastLetter;
}

const NO_RULES = [];

/**
 * Apply the first rule whose suffix matches, if its condition holds; NLTK's
 * `_apply_rule_list` for rules without the `*d` and empty-suffix forms.
 */
function applyRules(word, ruleIndex) {
  const rules = ruleIndex.get(word[word.length - 1]) ?? NO_RULES;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const stem = stripSuffix(word, rule[0]);
    if (stem !== undefined) {
      return rule[2](stem) ? stem + rule[1] : word;
    }
  }
  return word;
}

const STEP1A_RULES = ruleList([
  ["sses", "ss", always],
  ["ies", "i", always],
  ["ss", "ss", always],
  ["s", "", always],
]);

function step1a(word) {
  if (word.length === 4) {
    const stem = stripSuffix(word, "ies");
    if (stem !== undefined) {
      return `${stem}ie`;
    }
  }
  return applyRules(word, STEP1A_RULES);
}

function step1b(word) {
  const ied = stripSuffix(word, "ied");
  if (ied !== undefined) {
    return word.length === 4 ? `${ied}ie` : `${ied}i`;
  }
  const eed = stripSuffix(word, "eed");
  if (eed !== undefined) {
    return measure(eed) > 0 ? `${eed}ee` : word;
  }
  let stem = stripSuffix(word, "ed");
  if (stem === undefined || !containsVowel(stem)) {
    stem = stripSuffix(word, "ing");
    if (stem === undefined || !containsVowel(stem)) {
      return word;
    }
  }
  if (stem.endsWith("at") || stem.endsWith("bl") || stem.endsWith("iz")) {
    return `${stem}e`;
  }
  if (endsDoubleConsonant(stem)) {
    const last = stem[stem.length - 1];
    return last === "l" || last === "s" || last === "z" ? stem : stem.slice(0, -1);
  }
  return measure(stem) === 1 && endsCvc(stem) ? `${stem}e` : stem;
}

function step1c(word) {
  const stem = stripSuffix(word, "y");
  if (stem !== undefined && stem.length > 1 && isConsonant(stem, stem.length - 1)) {
    return `${stem}i`;
  }
  return word;
}

const STEP2_RULES = ruleList([
  ["ational", "ate", positiveMeasure],
  ["tional", "tion", positiveMeasure],
  ["enci", "ence", positiveMeasure],
  ["anci", "ance", positiveMeasure],
  ["izer", "ize", positiveMeasure],
  ["bli", "ble", positiveMeasure],
  ["alli", "al", positiveMeasure],
  ["entli", "ent", positiveMeasure],
  ["eli", "e", positiveMeasure],
  ["ousli", "ous", positiveMeasure],
  ["ization", "ize", positiveMeasure],
  ["ation", "ate", positiveMeasure],
  ["ator", "ate", positiveMeasure],
  ["alism", "al", positiveMeasure],
  ["iveness", "ive", positiveMeasure],
  ["fulness", "ful", positiveMeasure],
  ["ousness", "ous", positiveMeasure],
  ["aliti", "al", positiveMeasure],
  ["iviti", "ive", positiveMeasure],
  ["biliti", "ble", positiveMeasure],
  ["fulli", "ful", positiveMeasure],
  // NLTK measures `logi` words with their `l` kept on the stem.
  ["logi", "log", (stem) => positiveMeasure(`${stem}l`)],
]);

function step2(word) {
  const alli = stripSuffix(word, "alli");
  if (alli !== undefined && positiveMeasure(alli)) {
    return step2(`${alli}al`);
  }
  return applyRules(word, STEP2_RULES);
}

const STEP3_RULES = ruleList([
  ["icate", "ic", positiveMeasure],
  ["ative", "", positiveMeasure],
  ["alize", "al", positiveMeasure],
  ["iciti", "ic", positiveMeasure],
  ["ical", "ic", positiveMeasure],
  ["ful", "", positiveMeasure],
  ["ness", "", positiveMeasure],
]);

function step3(word) {
  return applyRules(word, STEP3_RULES);
}

const STEP4_RULES = ruleList([
  ["al", "", measureAboveOne],
  ["ance", "", measureAboveOne],
  ["ence", "", measureAboveOne],
  ["er", "", measureAboveOne],
  ["ic", "", measureAboveOne],
  ["able", "", measureAboveOne],
  ["ible", "", measureAboveOne],
  ["ant", "", measureAboveOne],
  ["ement", "", measureAboveOne],
  ["ment", "", measureAboveOne],
  ["ent", "", measureAboveOne],
  ["ion", "", (stem) => measureAboveOne(stem) && (stem.endsWith("s") || stem.endsWith("t"))],
  ["ou", "", measureAboveOne],
  ["ism", "", measureAboveOne],
  ["ate", "", measureAboveOne],
  ["iti", "", measureAboveOne],
  ["ous", "", measureAboveOne],
  ["ive", "", measureAboveOne],
  ["ize", "", measureAboveOne],
]);

function step4(word) {
  return applyRules(word, STEP4_RULES);
}

/** Both rules of step 5a are tried (NLTK cannot use its rule list here). */
function step5a(word) {
  const stem = stripSuffix(word, "e");
  if (stem !== undefined) {
    const m = measure(stem);
    if (m > 1 || (m === 1 && !endsCvc(stem))) {
      return stem;
    }
  }
  return word;
}

// NLTK measures the stem of step 5b with one `l` kept.
const STEP5B_RULES = ruleList([["ll", "l", (stem) => measureAboveOne(`${stem}l`)]]);

function step5b(word) {
  return applyRules(word, STEP5B_RULES);
}
