// A multi-step job: each step's output is the next step's input, checked by
// the compiler; each step is its own task, the next enqueued in the same
// statement that completes the current one. The job's definition and steps
// are in ./tasks/signup.ts; ./multiStep.test.ts tests them with
// underway/testing.
// Run: `npx tsx examples/multiStep.ts`
import { Underway } from "../src/index.ts";
import { devDatabase } from "../test/support/devDatabase.ts";
import { signup, signupSteps, startOnboarding } from "./tasks/signup.ts";

const database = await devDatabase();
const underway = await Underway.connect({ connectionString: database.url });

// The worker side: the steps, each its own task.
const worker = underway.job(signup).start(signupSteps, { concurrency: 4 });

// The producer side.
const jobId = await startOnboarding(underway, { userId: 1, email: "ferris@example.com" });
console.log(`job ${jobId} enqueued`);
console.log("result:", await underway.job(signup).result(jobId));

await worker.stop();
await underway.close();
await database.stop();
