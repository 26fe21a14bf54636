// Why a passkey operation was refused; the message is written for the person at the page.
export class PasskeyError extends Error {
  constructor(readonly code: 'invalid_name' | 'invalid_response' | 'challenge' | 'unknown_credential' | 'counter' | 'already_registered' | 'too_many' | 'not_found', message: string) {
    super(message);
    this.name = 'PasskeyError';
  }
}
