/**
 * The adapter registry. Order is the auto-detection order: specific signatures first, the
 * generic fallback last. Adding a format = one file in this folder plus one line here.
 */
import type { AlertFormat, FormatAdapter } from '../types';
import { alertmanager } from './alertmanager';
import { crowdsec } from './crowdsec';
import { elastic } from './elastic';
import { generic } from './generic';
import { graylog } from './graylog';
import { msgraph } from './msgraph';
import { ocsf } from './ocsf';
import { soar } from './soar';
import { splunk } from './splunk';
import { suricata } from './suricata';
import { wazuh } from './wazuh';

export const ADAPTERS: readonly FormatAdapter[] = [soar, wazuh, suricata, alertmanager, elastic, splunk, graylog, crowdsec, msgraph, ocsf, generic];

export const ADAPTER_BY_FORMAT: ReadonlyMap<AlertFormat, FormatAdapter> = new Map(ADAPTERS.map((a) => [a.format, a]));
