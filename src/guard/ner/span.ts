/** Shared shapes of the name finder's intermediate results. */

export type NameType = 'PERSON' | 'LOCATION' | 'ORGANIZATION' | 'NRP';

/** A typed token range with its score. */
export interface NameSpan {
  readonly first: number;
  readonly last: number;
  readonly type: NameType;
  readonly score: number;
}

/** A capitalised run with the evidence for each type, before the decision. */
export interface Candidate {
  first: number;
  last: number;
  person: number;
  location: number;
  org: number;
  nrp: boolean;
  /** No gazetteer knows any of its words. */
  unknown: boolean;
  words: number;
}
