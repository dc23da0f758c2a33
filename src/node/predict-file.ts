// Batch scoring of files: being written (issue 5).
export async function cmdPredictFile(_argv: string[], io: { log: (s: string) => void }): Promise<number> {
  io.log("moviesentiments: error: predict is not available in this build yet");
  return 2;
}
