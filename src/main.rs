use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    if let Err(error) = cachelab::os_limits::raise_open_file_limit() {
        eprintln!("cachelab: open-file limit left as it was: {error}");
    }
    let rocket = match cachelab::rocket() {
        Ok(rocket) => rocket.attach(cachelab::web::exercises::announce_instructor_view()),
        Err(error) => {
            eprintln!("cachelab: {error}");
            return ExitCode::FAILURE;
        }
    };
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cachelab: {error}");
            ExitCode::FAILURE
        }
    }
}
