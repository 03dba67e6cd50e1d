export type { ActionRecord, AllowedBy, IndicatorVerdict, MsgActions, MsgAlert, MsgApproval, MsgEnrichment, MsgIocs, SoarMessage } from './types';
export { CONTRACT_SCHEMAS, validateMessage, validatePart, type ContractPart } from './validate';
export {
  ACTION_CONDITIONS,
  accusedTargets,
  checkActionCondition,
  verdictAbout,
  VERDICT_RANK,
  type AccusedTarget,
  type ActionCondition,
  type ConditionOutcome,
} from './condition';
export { approvalDigest, canonicalJson, checkFieldPath, DEFAULT_APPROVAL_FIELDS, readPath, verifyApproval, type ApprovalCheck } from './approval';
