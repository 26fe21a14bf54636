// Maps the libraries' errors to a stable code, a message and an HTTP status, for the CLI and
// the admin API alike. Anything not listed here is unexpected and stays a 500 / exit 1.
import { ClientValidationError } from '../clients/definition.js';
import { ClientError } from '../clients/registry.js';
import { UserError } from '../accounts/users.js';
import { AccessError } from '../accounts/access.js';
import { ApiKeyError } from '../accounts/api-keys.js';
import { KeyError } from '../keys/store.js';
import { AdminError } from './operations.js';
import { BillingError } from '../billing/subscriptions.js';
import { EndpointError } from '../events/endpoints.js';
import { EventInputError } from '../events/event.js';

export interface DomainFailure {
  code: string;
  message: string;
  status: number;
}

const STATUS_BY_CODE: Record<string, number> = {
  not_found: 404,
  already_exists: 409,
  email_taken: 409,
  already_retired: 409,
  current_key: 409,
  no_grant: 404,
  endpoint_not_found: 404,
};

export function describeDomainError(error: unknown): DomainFailure | undefined {
  if (error instanceof ClientValidationError) return { code: 'invalid_client_metadata', message: error.problems.join('; '), status: 400 };
  if (error instanceof ClientError || error instanceof UserError || error instanceof AccessError
    || error instanceof ApiKeyError || error instanceof KeyError || error instanceof AdminError || error instanceof BillingError) {
    return { code: error.code, message: error.message, status: STATUS_BY_CODE[error.code] ?? 400 };
  }
  if (error instanceof EndpointError) return { code: error.code, message: error.message, status: STATUS_BY_CODE[error.code] ?? 400 };
  if (error instanceof EventInputError) return { code: 'invalid_event', message: error.message, status: 400 };
  return undefined;
}
