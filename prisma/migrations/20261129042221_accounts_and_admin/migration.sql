/*
  Warnings:

  - You are about to drop the column `is_admin` on the `users` table. All the data in the column will be lost.

*/
-- AlterTable
ALTER TABLE "oidc_payloads" ADD COLUMN     "account_id" TEXT;

-- AlterTable
ALTER TABLE "users" DROP COLUMN "is_admin";

-- CreateIndex
CREATE INDEX "oidc_payloads_account_id_idx" ON "oidc_payloads"("account_id");
