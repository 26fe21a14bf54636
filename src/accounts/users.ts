// Users: sign-up, credential checks, profile reads. Emails are stored lower-cased and trimmed.
import type { PrismaClient, User } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

export type { User };

export class UserError extends Error {
  constructor(readonly code: 'invalid_email' | 'weak_password' | 'email_taken' | 'not_found', message: string) {
    super(message);
    this.name = 'UserError';
  }
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface NewUser {
  email: string;
  password?: string;
  fullName?: string;
  isAdmin?: boolean;
}

export class Users {
  constructor(private readonly prisma: PrismaClient) {}

  async create({ email, password, fullName, isAdmin = false }: NewUser): Promise<User> {
    const normalized = normalizeEmail(email);
    if (!EMAIL_PATTERN.test(normalized) || normalized.length > 254) throw new UserError('invalid_email', 'Enter a valid email address.');
    if (password !== undefined) {
      const problem = passwordProblem(password);
      if (problem) throw new UserError('weak_password', problem);
    }
    try {
      return await this.prisma.user.create({
        data: {
          email: normalized,
          passwordHash: password === undefined ? null : await hashPassword(password),
          fullName: fullName?.trim() || null,
          isAdmin,
        },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new UserError('email_taken', 'An account with this email already exists.');
      }
      throw error;
    }
  }

  /** The user for these credentials, or undefined. Same work whether or not the email exists. */
  async authenticate(email: string, password: string): Promise<User | undefined> {
    const user = await this.prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
    const valid = await verifyPassword(password, user?.passwordHash);
    return valid && user && !user.disabledAt ? user : undefined;
  }

  findById(id: string): Promise<User | null> {
    // Account ids come from tokens and sessions; anything that is not a UUID cannot match.
    if (!/^[0-9a-f-]{36}$/i.test(id)) return Promise.resolve(null);
    return this.prisma.user.findUnique({ where: { id } });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
  }
}
