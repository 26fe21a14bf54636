// Friendly words for the OAuth errors a person can meet in a browser.
const MESSAGES: Record<string, { title: string; message: string }> = {
  invalid_client: { title: 'Unknown application', message: 'The application that sent you here is not registered with Nexus.' },
  invalid_redirect_uri: {
    title: 'Unregistered return address',
    message: 'The application asked Nexus to send you back to an address it has not registered. Nothing was shared with it.',
  },
  invalid_request: { title: 'Invalid sign-in request', message: 'The application sent an incomplete or invalid sign-in request.' },
  invalid_target: { title: 'Invalid sign-in request', message: 'The application asked for access it cannot have.' },
  session_not_found: {
    title: 'This sign-in has expired',
    message: 'Your sign-in took too long or was already completed. Go back to the application and sign in again.',
  },
  server_error: { title: 'Something went wrong', message: 'An unexpected error occurred. Please try again.' },
};

export function describeError(code: string, description?: string) {
  return MESSAGES[code] ?? { title: 'Something went wrong', message: description ?? 'The request could not be completed.' };
}
