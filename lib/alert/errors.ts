/** Bad input from a sender: the HTTP layer answers with `status` (400 or 415) and the message. */
export class AlertInputError extends Error {
  readonly status: number;

  constructor(message: string, status: number = 400) {
    super(message);
    this.name = 'AlertInputError';
    this.status = status;
  }
}
