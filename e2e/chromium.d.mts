export const executablePath: string | undefined;
export const chromiumArgs: string[];
