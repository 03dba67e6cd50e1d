/**
 * Alert normalisation engine: any supported alert payload -> the normalised soar.alert/1 shape
 * (docs/architecture.md §3; vendor shapes: docs/vendor-facts.md §A). Node-RED-free. See README.md.
 */
export type { AlertFormat, NormalisedAlert, Observable, ObservableType, NormaliseOptions, NormaliseResult, Severity, DraftPath } from './types';
export { ALERT_FORMATS, DRAFT_PATHS } from './types';
export { AlertInputError } from './errors';
export { parseBody, checkContentType, ACCEPTED_CONTENT_TYPES, MAX_DEPTH } from './parse';
export { normalise, detectFormat } from './normalise';
export { validateAlert, alertSchema } from './schema';
export { fieldMapErrors } from './fieldmap';
export { TIME_UNPARSED_TAG } from './finalise';
export { refang } from './values';
