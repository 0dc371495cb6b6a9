// The one place that imports the Cedar engine (the package root import fails under Node; the
// `nodejs` build is the one that works).
export {
  checkParseEntities,
  checkParseSchema,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  statefulIsAuthorized,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
export type {
  CedarValueJson,
  DetailedError,
  EntityJson,
  EntityUidJson,
  StatefulAuthorizationCall,
} from '@cedar-policy/cedar-wasm/nodejs';
